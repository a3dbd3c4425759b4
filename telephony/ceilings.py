"""Spending ceilings reached (a site's daily budget, the hourly ceiling on dials): each period is
recorded once, announced once in Telegram, and listed by /healthz while it runs.

The leads a ceiling refuses go to manual handling without an alert each (telephony/services.py):
a burst of a thousand leads makes one message, not a thousand.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from leads import hooks
from leads.models import Site
from telephony.models import CeilingHit
from telephony.policy import Block

logger = logging.getLogger(__name__)


def ceiling_hit_record(*, block: Block, site: Site) -> bool:
    """Count one lead refused by `block`'s ceiling. Returns True for the first of its period, which
    also sends the alert (after commit)."""
    start, end = block.period
    scope = site if block.ceiling == CeilingHit.Kind.SITE_DAILY else None
    hits = CeilingHit.objects.filter(kind=block.ceiling, site=scope, period_start=start)
    if hits.update(refused=F("refused") + 1, last_at=timezone.now()):
        return False
    try:
        with transaction.atomic():
            CeilingHit.objects.create(kind=block.ceiling, site=scope, period_start=start, period_end=end,
                                      limit=block.limit)
    except IntegrityError:  # another worker recorded it meanwhile
        hits.update(refused=F("refused") + 1, last_at=timezone.now())
        return False
    logger.warning("spending ceiling reached: %s", block.reason)
    hooks.service_alert(_alert_text(block, scope), scope)
    return True


def _alert_text(block: Block, site: Site | None) -> str:
    if site is not None:
        return _("%(site)s: %(reason)s Until the day ends, its new leads wait in manual handling. If this "
                 "is expected, raise the site's budget in the admin.") % {"site": site.domain, "reason": block.reason}
    return _("%(reason)s Until the hour has passed, new leads wait in manual handling. Look for abuse "
             "before raising CALL_HOURLY_CEILING.") % {"reason": block.reason}


def ceilings_running(now: datetime) -> list[dict]:
    """The ceilings whose period is still running, for /healthz."""
    hits = CeilingHit.objects.filter(period_end__gt=now).select_related("site").order_by("period_start", "pk")
    return [{"ceiling": hit.kind, "site": hit.site.domain if hit.site else None, "limit": hit.limit,
             "refused": hit.refused, "since": hit.first_at.isoformat(), "until": hit.period_end.isoformat()}
            for hit in hits]
