"""Our leads as Bitrix24 leads: their fields, and adding them so that none is added twice.

An add that got no sure answer (a read timeout, a dropped connection, a 5xx, a worker killed in the
middle) may still be running at the portal, which works on a request up to its execution cap and
then carries it out whether or not anybody still waits. So the moment an add is sent is kept on the
lead (`crm_sent_at`, committed before the request, so it holds across workers and crashes). Before
adding such a lead again we look it up by ORIGIN_ID, and trust "not there" only once that add can
no longer be running: sent + the cap + a margin (`bitrix.settle_time()`). Until then it waits, which
is a deferral, not a failed try.

The partner who brought a lead is named in SOURCE_DESCRIPTION and, when BITRIX_PARTNER_FIELD is set,
written to that lead field; never to COMPANY_ID, which makes the company the lead's client (a repeat
lead, IS_RETURN_CUSTOMER=Y: b24restdocs crm-lead-add.md).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from leadcaller.db import rows_bulk_update, rows_update
from leads import bitrix
from leads.bitrix import BitrixClient, BitrixError
from leads.models import Lead, Partner
from leads.pipeline import Defer, Done, Manual, Outcome, Retry

logger = logging.getLogger(__name__)

ORIGINATOR = "leadcaller"
# Lead field types that can hold a partner: its name, or its Bitrix24 company id.
PARTNER_FIELD_TYPES = ("string", "integer", "double")


@dataclass(frozen=True)
class PartnerField:
    name: str
    type: str = ""
    problem: str = ""  # why Leadcaller cannot write it; empty when it can

    def value(self, partner: Partner) -> str | None:
        if self.problem:
            return None
        if self.type == "string":
            return partner.name
        return str(partner.bitrix_company_id) if partner.bitrix_company_id else None


# BITRIX_PARTNER_FIELD as each portal describes it, asked once per process.
_partner_fields: dict[tuple[str, str], PartnerField] = {}


def crm_leads_add(*, client: BitrixClient, leads: list[Lead]) -> dict[int, Outcome]:
    """Make sure each lead is in Bitrix24 once: adopt those an earlier add created, hold back those
    whose earlier add may still be running, add the rest (one call, or one batch)."""
    try:
        outcomes = _reconcile(client, [lead for lead in leads if lead.crm_sent_at])
    except BitrixError as exc:
        return _for_all(leads, exc)
    fresh = [lead for lead in leads if lead.pk not in outcomes]
    if fresh:
        outcomes.update(_add(client, fresh))
    return outcomes


def lead_fields(lead: Lead, partner_field: PartnerField | None = None) -> dict:
    site = lead.site
    fields = {
        "TITLE": f"{site.name or site.domain}: {lead.name or lead.phone}",
        "NAME": lead.name,
        "PHONE": [{"VALUE": lead.phone, "VALUE_TYPE": "MOBILE"}],
        "COMMENTS": lead.comment,
        "SOURCE_ID": site.bitrix_source_id,
        "SOURCE_DESCRIPTION": _source_description(lead),
        "ORIGINATOR_ID": ORIGINATOR,
        "ORIGIN_ID": str(lead.public_id),
        "OPENED": "Y",
    }
    if lead.email:
        fields["EMAIL"] = [{"VALUE": lead.email, "VALUE_TYPE": "WORK"}]
    if lead.order_amount is not None:
        fields["OPPORTUNITY"] = str(lead.order_amount)
        fields["CURRENCY_ID"] = lead.currency
    for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"):
        if getattr(lead, name):
            fields[name.upper()] = getattr(lead, name)
    if lead.partner and partner_field and (value := partner_field.value(lead.partner)) is not None:
        fields[partner_field.name] = value
    if site.bitrix_assigned_by_id:
        fields["ASSIGNED_BY_ID"] = site.bitrix_assigned_by_id
    return fields


def partner_field(client: BitrixClient) -> PartnerField | None:
    """BITRIX_PARTNER_FIELD as the portal describes it (crm.lead.fields), asked once per process:
    Bitrix24 silently drops a field it does not know, so a wrong name would lose every link."""
    name = settings.BITRIX_PARTNER_FIELD
    if not name:
        return None
    key = (client.portal_key, name)
    if key not in _partner_fields:
        described = client.call("crm.lead.fields").get(name) or {}  # a failure is asked again next time
        kind = str(described.get("type") or "") + (" (multiple)" if described.get("isMultiple") else "")
        problem = ""
        if not described:
            problem = _("%(field)s is not a lead field in Bitrix24") % {"field": name}
        elif kind not in PARTNER_FIELD_TYPES:
            problem = _("%(field)s is a field of type %(type)s; a single String or Integer field is needed") % {
                "field": name, "type": kind}
        if problem:
            logger.error("BITRIX_PARTNER_FIELD: %s; partners are only named in the source description", problem)
        _partner_fields[key] = PartnerField(name, kind, problem)
    return _partner_fields[key]


def outcome_for(exc: BitrixError) -> Outcome:
    if exc.kind == "rate":  # the portal's limits or our share of them: a wait, not a failure
        wait = exc.retry_after or 1.0
        return Defer(timedelta(seconds=wait + random.uniform(0, min(5.0, wait / 2))), str(exc))
    if exc.kind == "auth":
        return Manual(_("Bitrix24 credentials are not valid: %(error)s") % {"error": exc})
    if exc.kind == "rejected":
        return Manual(_("Bitrix24 refused the lead: %(error)s") % {"error": exc})
    after = timedelta(seconds=exc.retry_after * random.uniform(1, 1.5)) if exc.retry_after else None
    return Retry(str(exc), after=after)


def adopt(lead: Lead, bitrix_id: int) -> None:
    Lead.objects.filter(pk=lead.pk).update(bitrix_lead_id=bitrix_id, crm_sent_at=None)
    lead.bitrix_lead_id, lead.crm_sent_at = bitrix_id, None


def _reconcile(client: BitrixClient, sent: list[Lead]) -> dict[int, Outcome]:
    """Leads whose earlier add got no sure answer: those found are adopted; those not found wait
    while that add may still be running, and the rest are left to be added again."""
    if not sent:
        return {}
    found: dict[str, int] = {}
    rows = client.list_all("crm.lead.list", {"filter": {"ORIGINATOR_ID": ORIGINATOR,
                                                        "@ORIGIN_ID": [str(lead.public_id) for lead in sent]},
                                             "select": ["ID", "ORIGIN_ID"], "order": {"ID": "ASC"}})
    for row in rows:
        found.setdefault(str(row.get("ORIGIN_ID")), int(row["ID"]))  # the first one, were there ever two
    outcomes: dict[int, Outcome] = {}
    now = timezone.now()
    for lead in sent:
        settled = lead.crm_sent_at + timedelta(seconds=bitrix.settle_time())
        if str(lead.public_id) in found:
            adopt(lead, found[str(lead.public_id)])
            outcomes[lead.pk] = Done(_("Bitrix24 lead %(id)s") % {"id": lead.bitrix_lead_id})
        elif settled > now:
            outcomes[lead.pk] = Defer(settled - now, _("an earlier add may still be running in Bitrix24"))
    return outcomes


def _add(client: BitrixClient, leads: list[Lead]) -> dict[int, Outcome]:
    """Add the leads (one call, or one batch); returns each lead's outcome."""
    ids = [lead.pk for lead in leads]
    try:
        link = partner_field(client) if any(lead.partner_id for lead in leads) else None
        commands = {f"lead{lead.pk}": ("crm.lead.add", {"fields": lead_fields(lead, link),
                                                        "params": {"REGISTER_SONET_EVENT": "Y"}}) for lead in leads}
        rows_update(Lead.objects.filter(pk__in=ids), crm_sent_at=timezone.now())  # before the request: it may get through
        if len(leads) == 1:
            method, params = commands[f"lead{leads[0].pk}"]
            results, errors = {f"lead{leads[0].pk}": client.call(method, params)}, {}
        else:
            batch = client.batch(commands)
            results, errors = batch.results, batch.errors
    except BitrixError as exc:
        if not exc.maybe_sent:
            rows_update(Lead.objects.filter(pk__in=ids), crm_sent_at=None)
        return _for_all(leads, exc)
    outcomes: dict[int, Outcome] = {}
    created, refused = [], []
    for lead in leads:
        key = f"lead{lead.pk}"
        if results.get(key):
            lead.bitrix_lead_id, lead.crm_sent_at = int(results[key]), None
            created.append(lead)
            outcomes[lead.pk] = _done(lead, link)
        elif key in errors:  # Bitrix24 answered for this one: it was not created
            refused.append(lead.pk)
            outcomes[lead.pk] = outcome_for(errors[key])
        else:
            outcomes[lead.pk] = Retry(_("Bitrix24's batch answer did not mention this lead"))
    rows_bulk_update(created, ["bitrix_lead_id", "crm_sent_at"])
    if refused:
        rows_update(Lead.objects.filter(pk__in=refused), crm_sent_at=None)
    return outcomes


def _for_all(leads: list[Lead], exc: BitrixError) -> dict[int, Outcome]:
    outcome = outcome_for(exc)  # one due time for the group: it comes back as one batch
    return {lead.pk: outcome for lead in leads}


def _done(lead: Lead, link: PartnerField | None) -> Done:
    message = _("Bitrix24 lead %(id)s") % {"id": lead.bitrix_lead_id}
    if lead.partner_id and link and link.problem:  # said where staff look, not only in the log
        message += "; " + _("partner not linked: %(problem)s") % {"problem": link.problem}
    return Done(message)


def _source_description(lead: Lead) -> str:
    text = f"Leadcaller: {lead.site.domain}"
    partner = lead.partner
    if partner and partner.bitrix_company_id:
        text += "; " + _("partner %(name)s (Bitrix24 company %(id)s)") % {
            "name": partner.name, "id": partner.bitrix_company_id}
    elif partner:
        text += "; " + _("partner %(name)s") % {"name": partner.name}
    return text
