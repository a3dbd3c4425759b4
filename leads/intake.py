"""Accepting one submission: honeypot, site and key, validation, per-phone limit, then the ref rule.

The API view turns a body into submissions and answers; everything a submission goes through
before it is stored is here, the same for a plain post and for each op of a Corezoid envelope.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from leadcaller import metrics
from leads.intake_input import Submission, scrub
from leads.models import IntakeCounter, Lead, Site
from leads.selectors import site_resolve
from leads.serializers import LeadInputSerializer
from leads.services import IntakeResult, LeadData, intake_count, lead_intake
from leads.throttles import phone_throttle_wait

logger = logging.getLogger(__name__)


class Rejected(Exception):
    """The submission is refused; `detail` is a message or a field -> messages map."""

    def __init__(self, status: int, detail: Any, *, retry_after: int | None = None):
        super().__init__(detail)
        self.status, self.detail, self.retry_after = status, detail, retry_after


@dataclass(frozen=True)
class Accepted:
    id: uuid.UUID
    status: str
    duplicate: bool
    created: bool  # False for a duplicate and for a swallowed honeypot post


def submission_accept(sub: Submission, *, keyed_site: Site | None) -> Accepted:
    try:
        accepted = _accept(sub, keyed_site)
    except Rejected as exc:
        metrics.intake_refused(exc.status)
        raise
    if accepted.created:
        metrics.LEADS_RECEIVED.inc()
    else:
        metrics.LEADS_REFUSED.labels(reason="duplicate" if accepted.duplicate else "honeypot").inc()
    return accepted


def _accept(sub: Submission, keyed_site: Site | None) -> Accepted:
    site, unknown = _site_for(sub, keyed_site)
    if sub.honeypot:
        # Answer like a success so a bot learns nothing; store and call nothing.
        intake_count(kind=IntakeCounter.Kind.HONEYPOT, site=site)
        logger.info("honeypot field filled; post swallowed")
        return Accepted(uuid.uuid4(), Lead.Status.IN_PROGRESS, duplicate=False, created=False)
    data = _validated(sub, site)
    wait = phone_throttle_wait(data.phone)
    if wait is not None:
        intake_count(kind=IntakeCounter.Kind.THROTTLED, site=site)
        raise Rejected(429, _("Too many leads for this phone number. Try again later."), retry_after=wait)
    client_ip, user_agent = _sender(sub, keyed_site)
    result: IntakeResult = lead_intake(
        data=data, site=site, site_unknown=unknown, client_ip=client_ip, user_agent=user_agent, raw_request=sub.raw,
    )
    return Accepted(result.lead.public_id, result.lead.status, result.duplicate, created=not result.duplicate)


def _sender(sub: Submission, keyed_site: Site | None) -> tuple[str | None, str]:
    """(IP, user agent) of who sent the lead. An envelope's `server` fields are the visitor's as the
    shop's script saw them, and are believed only with the site's key; else the connection's own."""
    if keyed_site is not None:
        return (_ip_or_none(sub.reported_ip) or _ip_or_none(sub.peer.ip),
                sub.reported_user_agent or sub.peer.user_agent)
    return _ip_or_none(sub.peer.ip), sub.peer.user_agent


def _site_for(sub: Submission, keyed_site: Site | None) -> tuple[Site, bool]:
    if keyed_site is not None:
        return keyed_site, False
    match = site_resolve(origin=sub.peer.origin, hints=sub.hints)
    if match.site is None:
        intake_count(kind=IntakeCounter.Kind.UNKNOWN_SITE, site=None)
        raise Rejected(400, {"site": [_("Unknown site %(host)s.") % {"host": match.host or "(none given)"}]})
    if match.site.require_key:
        raise Rejected(403, _("This site requires its intake key (X-Leadcaller-Key header or key parameter)."))
    return match.site, match.unknown


def _validated(sub: Submission, site: Site) -> LeadData:
    serializer = LeadInputSerializer(
        data=sub.fields, context={"region": site.phone_region or settings.PHONE_REGION}
    )
    if not serializer.is_valid():
        raise Rejected(400, serializer.errors)
    values = serializer.validated_data
    email, rejected_email = serializer.validated_email()
    extra = scrub({**sub.extra, **values["extra"]})
    if rejected_email:
        extra["email_as_entered"] = rejected_email
    return LeadData(
        phone_raw=values["phone"],
        phone=serializer.context["phone_e164"],
        name=values["name"].strip(),
        email=email,
        comment=values["comment"].strip(),
        order_amount=values["order_amount"],
        currency=values["currency"],
        ref=values["ref"].strip(),
        partner_code=values["partner"],
        utm_source=values["utm_source"],
        utm_medium=values["utm_medium"],
        utm_campaign=values["utm_campaign"],
        utm_term=values["utm_term"],
        utm_content=values["utm_content"],
        extra=extra,
    )


def _ip_or_none(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None
