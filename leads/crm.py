"""The CRM step: every lead in the shop's Bitrix24 exactly once, and its call outcomes written back.

A lone lead goes out at once with crm.lead.add; when several are due (a burst, a backlog after an
outage) the worker that runs first takes up to 50 of them and sends one `batch`. Before any add,
the lead is marked "maybe sent": a retry of such a lead first looks it up by ORIGIN_ID, so a lead
whose add reached Bitrix24 but whose answer was lost is never created twice.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leads import bitrix, pipeline
from leads.bitrix import BitrixClient, BitrixError
from leads.models import Lead
from leads.pipeline import Defer, Done, Manual, Outcome, Retry, Skipped
from telephony.models import CallAttempt

logger = logging.getLogger(__name__)

ORIGINATOR = "leadcaller"
BATCH_LIMIT = 50  # Bitrix24's cap on commands in one batch
# Leads deferred for the rate limit and due within this long ride along in the next batch.
BATCH_EARLY = timedelta(seconds=5)
WRITTEN_BACK = (CallAttempt.Status.FINISHED, CallAttempt.Status.LOST)


def crm_step_run(*, lead_id: int) -> None:
    """The task's body: claim the lead, and with it any other fresh leads that are due, then add them."""
    fence = pipeline.step_claim(step_name="crm", lead_id=lead_id)
    if fence is None:
        return
    lead = Lead.objects.select_related("site", "partner").get(pk=lead_id)
    client = bitrix.client_from_settings()
    if client is None or lead.bitrix_lead_id is not None or lead.crm_maybe_sent:
        _apply(lead, _safely(crm_step_handle, lead), fence)
        return
    more = pipeline.step_claim_more(step_name="crm", limit=BATCH_LIMIT - 1, early=BATCH_EARLY,
                                    extra=Q(bitrix_lead_id=None, crm_maybe_sent=False))
    others = Lead.objects.select_related("site", "partner").in_bulk([other for other, _ in more])
    group = [(lead, fence)] + [(others[other], other_fence) for other, other_fence in more]
    Lead.objects.filter(pk__in=[member.pk for member, _ in group]).update(crm_resync=False)
    try:
        outcomes = _add(client, [member for member, _ in group])
    except Exception as exc:  # unforeseen (the shared rate-limit store is down): retried like any step,
        # rather than left running until the leases of the whole group run out
        logger.exception("crm step of leads %s failed", [member.pk for member, _ in group])
        outcomes = {member.pk: Retry(f"{type(exc).__name__}: {exc}") for member, _ in group}
    for member, member_fence in group:
        _apply(member, outcomes[member.pk], member_fence)
        if isinstance(outcomes[member.pk], Done) and _unwritten(member).exists():
            # A call ended before the CRM step got here: its write-back is a task of its own, so
            # no task holds a worker for a whole batch's worth of slow requests.
            pipeline.step_reopen(step_name="crm", lead_id=member.pk)


def crm_step_handle(lead: Lead) -> Outcome:
    """One lead: make sure it exists in Bitrix24, then write back any call outcome not written yet."""
    client = bitrix.client_from_settings()
    if client is None:
        return Skipped(_("Bitrix24 is not connected; the lead is not sent to a CRM."))
    Lead.objects.filter(pk=lead.pk).update(crm_resync=False)
    try:
        if lead.bitrix_lead_id is None and lead.crm_maybe_sent:
            _adopt(lead, _find(client, lead))
        if lead.bitrix_lead_id is None:
            outcome = _add(client, [lead])[lead.pk]
            if not isinstance(outcome, Done):
                return outcome
        _write_back(client, lead)
    except BitrixError as exc:
        return _outcome_for(exc)
    return Done(_("Bitrix24 lead %(id)s") % {"id": lead.bitrix_lead_id})


def lead_fields(lead: Lead) -> dict:
    site = lead.site
    fields = {
        "TITLE": f"{site.name or site.domain}: {lead.name or lead.phone}",
        "NAME": lead.name,
        "PHONE": [{"VALUE": lead.phone, "VALUE_TYPE": "MOBILE"}],
        "COMMENTS": lead.comment,
        "SOURCE_ID": site.bitrix_source_id,
        "SOURCE_DESCRIPTION": f"Leadcaller: {site.domain}",
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
    if lead.partner and lead.partner.bitrix_company_id:
        fields["COMPANY_ID"] = lead.partner.bitrix_company_id
    if site.bitrix_assigned_by_id:
        fields["ASSIGNED_BY_ID"] = site.bitrix_assigned_by_id
    return fields


def _add(client: BitrixClient, leads: list[Lead]) -> dict[int, Outcome]:
    """Add the leads (one call, or one batch); returns each lead's outcome."""
    ids = [lead.pk for lead in leads]
    Lead.objects.filter(pk__in=ids).update(crm_maybe_sent=True)  # before the request: it may get through
    commands = {f"lead{lead.pk}": ("crm.lead.add", {"fields": lead_fields(lead), "params": {"REGISTER_SONET_EVENT": "Y"}})
                for lead in leads}
    try:
        if len(leads) == 1:
            method, params = commands[f"lead{leads[0].pk}"]
            results, errors = {f"lead{leads[0].pk}": client.call(method, params)}, {}
        else:
            batch = client.batch(commands)
            results, errors = batch.results, batch.errors
    except BitrixError as exc:
        if not exc.maybe_sent:
            Lead.objects.filter(pk__in=ids).update(crm_maybe_sent=False)
        outcome = _outcome_for(exc)  # one due time for the group: it comes back as one batch
        return {lead.pk: outcome for lead in leads}
    outcomes: dict[int, Outcome] = {}
    for lead in leads:
        key = f"lead{lead.pk}"
        if results.get(key):
            _adopt(lead, int(results[key]))
            outcomes[lead.pk] = Done(_("Bitrix24 lead %(id)s") % {"id": lead.bitrix_lead_id})
        elif key in errors:  # Bitrix24 answered for this one: it was not created
            Lead.objects.filter(pk=lead.pk).update(crm_maybe_sent=False)
            outcomes[lead.pk] = _outcome_for(errors[key])
        else:
            outcomes[lead.pk] = Retry(_("Bitrix24's batch answer did not mention this lead"))
    return outcomes


def _find(client: BitrixClient, lead: Lead) -> int | None:
    found = client.call("crm.lead.list", {"filter": {"ORIGINATOR_ID": ORIGINATOR, "ORIGIN_ID": str(lead.public_id)},
                                          "select": ["ID"]})
    return int(found[0]["ID"]) if found else None


def _adopt(lead: Lead, bitrix_id: int | None) -> None:
    if bitrix_id:
        Lead.objects.filter(pk=lead.pk).update(bitrix_lead_id=bitrix_id, crm_maybe_sent=False)
        lead.bitrix_lead_id, lead.crm_maybe_sent = bitrix_id, False


def _unwritten(lead: Lead):
    return CallAttempt.objects.filter(lead=lead, status__in=WRITTEN_BACK,
                                      number__gt=lead.crm_synced_attempt).order_by("number")


def _write_back(client: BitrixClient, lead: Lead) -> None:
    """A timeline comment per finished call (and the mapped status), each once, in order."""
    attempts = _unwritten(lead)
    status_map = lead.site.bitrix_status_map or {}
    for attempt in attempts:
        client.call("crm.timeline.comment.add", {"fields": {
            "ENTITY_ID": lead.bitrix_lead_id, "ENTITY_TYPE": "lead", "COMMENT": _comment(attempt)}})
        status = status_map.get(attempt.outcome)
        if status:
            client.call("crm.lead.update", {"id": lead.bitrix_lead_id, "fields": {"STATUS_ID": status},
                                            "params": {"REGISTER_SONET_EVENT": "N"}})
        Lead.objects.filter(pk=lead.pk).update(crm_synced_attempt=attempt.number)
        lead.crm_synced_attempt = attempt.number


def _comment(attempt: CallAttempt) -> str:
    outcome = attempt.get_outcome_display() if attempt.outcome else _("no result")
    text = _("Leadcaller, call %(n)d to %(phone)s: %(outcome)s") % {
        "n": attempt.number, "phone": attempt.phone, "outcome": outcome}
    if attempt.duration:
        text += _(", %(s)d s") % {"s": attempt.duration}
    if attempt.digits:
        text += _(", keys pressed: %(digits)s") % {"digits": attempt.digits}
    if attempt.detail:
        text += f" ({attempt.detail})"
    return text


def _outcome_for(exc: BitrixError) -> Outcome:
    if exc.kind == "rate" and exc.code == "":  # our own share of the limit: wait for a turn, not a failure
        return Defer(timedelta(seconds=exc.retry_after * random.uniform(1, 1.5)), str(exc))
    if exc.kind == "auth":
        return Manual(_("Bitrix24 credentials are not valid: %(error)s") % {"error": exc})
    if exc.kind == "rejected":
        return Manual(_("Bitrix24 refused the lead: %(error)s") % {"error": exc})
    after = timedelta(seconds=exc.retry_after * random.uniform(1, 1.5)) if exc.retry_after else None
    return Retry(str(exc), after=after)


def _safely(handler, lead: Lead) -> Outcome:
    try:
        return handler(lead)
    except BitrixError as exc:
        return _outcome_for(exc)
    except Exception as exc:  # a bug: retried, then manual handling, like any step
        logger.exception("crm step of lead %s failed", lead.pk)
        return Retry(f"{type(exc).__name__}: {exc}")


def _apply(lead: Lead, outcome: Outcome, fence) -> None:
    if pipeline.step_outcome_apply(step_name="crm", lead=lead, outcome=outcome, fence=fence):
        return
    # A call outcome arrived while we ran (crm_resync): run again now rather than after the lease.
    if Lead.objects.filter(pk=lead.pk, crm_resync=True, crm_state=Lead.StepState.RUNNING, crm_due_at=fence).update(
            crm_state=Lead.StepState.PENDING, crm_due_at=timezone.now()):
        pipeline.lead_dispatch(lead.pk, steps=["crm"])
