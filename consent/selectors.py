"""Reads for consent: the rule a site follows, its current text, the proofs to export."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet

from consent.models import ConsentProof, ConsentText
from leads.models import Site


def consent_required(site: Site) -> bool:
    """The site's own rule when it has one, else CONSENT_REQUIRED."""
    return settings.CONSENT_REQUIRED if site.consent_required is None else site.consent_required


def consent_text_current(site: Site) -> ConsentText | None:
    """The newest version of the site's text: what a form without `consent_version` showed."""
    return ConsentText.objects.filter(site=site).order_by("-version").first()


def consent_proofs(*, site: Site | None, first: dt.date | None, last: dt.date | None,
                   tz: ZoneInfo) -> QuerySet[ConsentProof]:
    """Proofs of one site (or all) given from the start of `first` to the end of `last`, in `tz`."""
    proofs = ConsentProof.objects.select_related("lead", "site", "consent_text").order_by("given_at", "id")
    if site is not None:
        proofs = proofs.filter(site=site)
    if first is not None:
        proofs = proofs.filter(given_at__gte=dt.datetime.combine(first, dt.time.min, tzinfo=tz))
    if last is not None:
        proofs = proofs.filter(given_at__lt=dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz))
    return proofs
