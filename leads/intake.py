"""Accepting one submission: honeypot, site and key, validation, per-phone limit, then the ref rule.

The API view turns a body into submissions and answers; everything a submission goes through
before it is stored is here, the same for a plain post and for each op of a Corezoid envelope.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from consent.services import ConsentClaim, ConsentGiven, ConsentRefused, consent_check
from leadcaller import metrics
from leads.builders import submission_key_lead
from leads.intake_input import Submission, scrub
from leads.models import IntakeCounter, Lead, Site
from leads.selectors import host_normalize, site_resolve
from leads.serializers import LeadInputSerializer
from leads.services import IntakeResult, LeadData, intake_count, lead_intake
from leads.throttles import phone_throttle_wait

logger = logging.getLogger(__name__)


class Rejected(Exception):
    """The submission is refused; `detail` is a message or a field -> messages map, `summary` one line
    for an envelope's `description`."""

    def __init__(self, status: int, detail: Any, *, retry_after: int | None = None, summary: str = ""):
        super().__init__(detail)
        self.status, self.detail, self.retry_after, self.summary = status, detail, retry_after, summary


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
    if sub.submission_key:
        # A builder repeating a submission (Tilda retries what it thinks failed) gets the first
        # lead back, whatever became of it, before any check that could answer otherwise.
        first = submission_key_lead(site=site, key=sub.submission_key)
        if first is not None:
            logger.info("builder submission repeated; answered with its lead")
            return Accepted(first.public_id, first.status, duplicate=True, created=False)
    data, claim = _validated(sub, site)
    consent = _consent(sub, keyed_site, site, claim)
    wait = phone_throttle_wait(data.phone)
    if wait is not None:
        intake_count(kind=IntakeCounter.Kind.THROTTLED, site=site)
        raise Rejected(429, _("Too many leads for this phone number. Try again later."), retry_after=wait)
    client_ip, user_agent = _sender(sub, keyed_site)
    result: IntakeResult = lead_intake(
        data=data, site=site, site_unknown=unknown, client_ip=client_ip, user_agent=user_agent, raw_request=sub.raw,
        consent=consent, submission_key=sub.submission_key,
    )
    return Accepted(result.lead.public_id, result.lead.status, result.duplicate, created=not result.duplicate)


def _sender(sub: Submission, keyed_site: Site | None) -> tuple[str | None, str]:
    """(IP, user agent) of who sent the lead. An envelope's `server` fields are the visitor's as the
    shop's script saw them, and are believed only with the site's key; else the connection's own."""
    if keyed_site is not None:
        return (_ip_or_none(sub.reported_ip) or _ip_or_none(sub.peer.ip),
                scrub(sub.reported_user_agent) or sub.peer.user_agent)
    return _ip_or_none(sub.peer.ip), sub.peer.user_agent


def _consent(sub: Submission, keyed_site: Site | None, site: Site, claim: ConsentClaim) -> ConsentGiven | None:
    """The consent to prove with the lead, or None; a submission the site's rule refuses is a 422."""
    try:
        consent = consent_check(site=site, claim=claim)
    except ConsentRefused as exc:
        if exc.field == "consent":
            intake_count(kind=IntakeCounter.Kind.NO_CONSENT, site=site)
        raise Rejected(422, {exc.field: [exc.message]}, summary=exc.message) from None
    if consent is None:
        return None
    url, source = _page(sub, keyed_site, site, claim.page)
    return replace(consent, page_url=url, page_source=source)


def _page(sub: Submission, keyed_site: Site | None, site: Site, posted: str) -> tuple[str, str]:
    """(address of the form's page, where it was read), believed as far as the sender is: with the
    site's key, the visitor's Referer as an envelope reports it, then the posted `page`; without it, the
    posted `page` only on the site's own host, else the request's own Referer header."""
    if keyed_site is not None:
        candidates = [(sub.reported_referer, "envelope"), (posted, "form"), (sub.peer.referer, "referer")]
    else:
        host = host_normalize(posted)
        on_site = bool(host) and (host == site.domain or host.endswith("." + site.domain))
        candidates = [(posted if on_site else "", "form"), (sub.peer.referer, "referer")]
    for url, source in candidates:
        url = scrub(url).strip()[:2000]
        if url:
            return url, source
    return "", ""


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


def _validated(sub: Submission, site: Site) -> tuple[LeadData, ConsentClaim]:
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
    ), ConsentClaim(given=bool(values["consent"]), version=values["consent_version"], text=values["consent_text"],
                    page=values["page"])


def _ip_or_none(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None
