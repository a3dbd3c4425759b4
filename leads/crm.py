"""The CRM step: every lead in the shop's Bitrix24 exactly once, and its call outcomes written back.

A lone lead goes out at once with crm.lead.add; when several are due (a burst, a backlog after an
outage) the worker that runs first takes up to 50 of them and sends one `batch`. How an add that
got no answer is looked up rather than repeated is in leads/crm_leads.py.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leadcaller.db import rows_bulk_update, rows_update
from leads import bitrix, pipeline
from leads.bitrix import BitrixClient, BitrixError
from leads.crm_leads import crm_leads_add, outcome_for
from leads.models import Lead
from leads.pipeline import Done, Outcome, Retry, Skipped
from leads.services import write_back_due
from telephony.models import CallAttempt

logger = logging.getLogger(__name__)

BATCH_LIMIT = 50  # Bitrix24's cap on commands in one batch
# Leads deferred for the rate limit and due within this long ride along in the next batch.
BATCH_EARLY = timedelta(seconds=5)
WRITTEN_BACK = (CallAttempt.Status.FINISHED, CallAttempt.Status.LOST)
OPTED_OUT = CallAttempt.Outcome.OPTED_OUT
# A claimer waits this long at most for our share of the portal's rate, before it claims and in its
# requests. Claiming first and deferring the batch when no token was there cost about ten claims per lead
# in a long burst (docs/benchmarks.md); a longer wait (the portal full, a method held) still defers.
CLAIMER_RATE_WAIT = 2.0


def crm_claim_run() -> int:
    """The CRM step's claimer: take what is due, leads not yet in Bitrix24 first (50 to a `batch`),
    then write-backs, until nothing is due or its budget is spent; then kick the next claimer for the
    earliest work to come. A lead waiting for the rate limit is a due time on its row, not a task.
    Returns how many claims it ran (each a batch of adds, or of write-backs)."""
    with bitrix.rate_waits_up_to(CLAIMER_RATE_WAIT):
        return pipeline.claimer_run("crm", _crm_claim_once)


def _crm_claim_once() -> int:
    lead = _first_due()
    if lead is None:
        return 0
    client = bitrix.client_from_settings()
    if client is not None and client.room_awaited():  # then claim: what came due meanwhile rides along
        lead = _first_due()
        if lead is None:  # another claimer took it
            return 0
    if lead[1] is None or not crm_write_backs_run():
        crm_step_run(lead_id=lead[0])
    return 1


def _first_due() -> tuple[int, int | None] | None:
    """(id, Bitrix24 id) of the lead the next claim starts from: not yet in Bitrix24 first."""
    return (Lead.objects.filter(crm_state__in=pipeline.OPEN_STATES, crm_due_at__lte=timezone.now())
            .order_by(F("bitrix_lead_id").asc(nulls_first=True), "crm_due_at")
            .values_list("pk", "bitrix_lead_id").first())


def crm_write_backs_run() -> int:
    """Claim due leads that are in Bitrix24 already and write their call outcomes back, as many as fit
    in one `batch` (50 calls: a comment, and the mapped status, per finished call). Returns how many
    leads it took (0: none was due, or there is no portal)."""
    client = bitrix.client_from_settings()
    if client is None:
        return 0
    # Outcomes come due CRM_WRITE_BACK_GATHER after they came (leads/services.py, write_back_due): those due
    # within that span go with this batch. A retry (no new outcome) keeps its backoff.
    gather = timedelta(seconds=settings.CRM_WRITE_BACK_GATHER)
    fresh = Q(crm_resync=True) | Q(crm_due_at__lte=timezone.now())
    claimed = pipeline.step_claim_more(step_name="crm", limit=BATCH_LIMIT, early=gather,
                                       extra=Q(bitrix_lead_id__isnull=False) & fresh)
    if not claimed:
        return 0
    leads = Lead.objects.select_related("site", "partner").in_bulk([pk for pk, _ in claimed])
    rows_update(Lead.objects.filter(pk__in=list(leads)), crm_resync=False)
    unwritten = _unwritten_of(list(leads.values()))
    plans = {pk: _write_back_plan(leads[pk], unwritten.get(pk, [])) for pk in leads}
    commands: dict[str, tuple[str, dict]] = {}
    taken, later = [], []
    for pk, fence in claimed:  # whole leads only; the rest go in the next batch
        plan = plans[pk]
        if commands and len(commands) + sum(len(step[1]) for step in plan) > BATCH_LIMIT:
            later.append((pk, fence))
            continue
        taken.append((pk, fence))
        commands.update({key: command for _, step in plan for key, command in step.items()})
    results, errors, failed = {}, {}, None
    try:
        if commands:
            batch = client.batch(commands)
            results, errors = batch.results, batch.errors
    except BitrixError as exc:
        failed = outcome_for(exc)
    except Exception as exc:  # unforeseen (the shared rate-limit store is down): retried like any step
        logger.exception("crm write-back of leads %s failed", [pk for pk, _ in taken])
        failed = Retry(f"{type(exc).__name__}: {exc}")
    outcomes = {pk: failed or _write_back_recorded(leads[pk], plans[pk], results, errors) for pk, _ in taken}
    written = [leads[pk] for pk, _ in taken if plans[pk] and not failed]
    rows_bulk_update(written, ["crm_synced_attempt", "crm_opt_out_written"])
    results_all = [(leads[pk], outcomes[pk], fence) for pk, fence in taken]
    # Not sent: due again at once, no try spent (recorded together: one statement for them all).
    results_all += [(leads[pk], pipeline.Defer(timedelta(0), "waits for the next batch"), fence) for pk, fence in later]
    _apply_all(results_all)
    return len(taken)


def _write_back_plan(lead: Lead, unwritten: list[CallAttempt]) -> list[tuple[object, dict[str, tuple[str, dict]]]]:
    """What a lead's write-back sends: per finished call not yet written (its number), a comment and the
    lead's update (the mapped status; the seller who talked as responsible); then, for an opted-out lead,
    the "do not call" note ("opt-out")."""
    status_map = lead.site.bitrix_status_map or {}
    plan: list[tuple[object, dict[str, tuple[str, dict]]]] = []
    for attempt in unwritten:
        step = {f"l{lead.pk}c{attempt.number}": ("crm.timeline.comment.add", {"fields": {
            "ENTITY_ID": lead.bitrix_lead_id, "ENTITY_TYPE": "lead", "COMMENT": _comment(attempt)}})}
        fields = {"STATUS_ID": status_map[attempt.outcome]} if status_map.get(attempt.outcome) else {}
        if attempt.seller_id and attempt.seller.bitrix_user_id:  # the seller who talked becomes responsible
            fields["ASSIGNED_BY_ID"] = attempt.seller.bitrix_user_id
        if fields:
            step[f"l{lead.pk}s{attempt.number}"] = ("crm.lead.update", {
                "id": lead.bitrix_lead_id, "fields": fields, "params": {"REGISTER_SONET_EVENT": "N"}})
        plan.append((attempt.number, step))
    if lead.status == Lead.Status.OPTED_OUT and not lead.crm_opt_out_written:
        # Bitrix24 has no standard "do not call" field on leads (b24restdocs crm-lead-fields.md; contacts only
        # have EXPORT): a timeline comment says it, and the status map's `opted_out` status, if any, is set
        # (for a key press it was set with that call's comment already).
        step = {f"l{lead.pk}o": ("crm.timeline.comment.add", {"fields": {
            "ENTITY_ID": lead.bitrix_lead_id, "ENTITY_TYPE": "lead",
            "COMMENT": _("Leadcaller: do not call %(phone)s. %(reason)s") % {"phone": lead.phone,
                                                                             "reason": lead.opt_out_reason}}})}
        status = status_map.get(OPTED_OUT)
        if status and not lead.call_attempts.filter(outcome=OPTED_OUT).exists():
            step[f"l{lead.pk}os"] = ("crm.lead.update", {"id": lead.bitrix_lead_id, "fields": {"STATUS_ID": status},
                                                         "params": {"REGISTER_SONET_EVENT": "N"}})
        plan.append(("opt-out", step))
    return plan


def _write_back_recorded(lead: Lead, plan, results: dict, errors: dict) -> Outcome:
    """Mark on `lead` each part of the plan that Bitrix24 carried out, in order, up to the first it
    refused (the batch's leads are saved together)."""
    for part, step in plan:
        for key in step:
            if key in errors:
                return outcome_for(errors[key])
            if key not in results:
                return Retry(_("Bitrix24's batch answer did not mention this lead"))
        if part == "opt-out":
            lead.crm_opt_out_written = True
        else:
            lead.crm_synced_attempt = part
    return Done(_("Bitrix24 lead %(id)s") % {"id": lead.bitrix_lead_id})


def crm_step_run(*, lead_id: int) -> None:
    """The task's body: claim the lead, and with it any others not yet in Bitrix24 that are due,
    then add them."""
    fence = pipeline.step_claim(step_name="crm", lead_id=lead_id)
    if fence is None:
        return
    lead = Lead.objects.select_related("site", "partner").get(pk=lead_id)
    client = bitrix.client_from_settings()
    if client is None or lead.bitrix_lead_id is not None:
        _apply(lead, _safely(crm_step_handle, lead), fence)
        return
    more = pipeline.step_claim_more(step_name="crm", limit=BATCH_LIMIT - 1, early=BATCH_EARLY,
                                    extra=Q(bitrix_lead_id=None))
    others = Lead.objects.select_related("site", "partner").in_bulk([other for other, _ in more])
    group = [(lead, fence)] + [(others[other], other_fence) for other, other_fence in more]
    rows_update(Lead.objects.filter(pk__in=[member.pk for member, _ in group]), crm_resync=False)
    try:
        outcomes = crm_leads_add(client=client, leads=[member for member, _ in group])
    except Exception as exc:  # unforeseen (the shared rate-limit store is down): retried like any step,
        # rather than left running until the leases of the whole group run out
        logger.exception("crm step of leads %s failed", [member.pk for member, _ in group])
        outcomes = {member.pk: Retry(f"{type(exc).__name__}: {exc}") for member, _ in group}
    _apply_all([(member, outcomes[member.pk], member_fence) for member, member_fence in group])
    for lead_id in _write_backs_due([member for member, _fence in group if isinstance(outcomes[member.pk], Done)]):
        # A call ended (or the lead opted out) before the CRM step got here: its write-back is a claim
        # of its own, so no run holds a worker for a whole batch's worth of slow requests.
        pipeline.step_reopen(step_name="crm", lead_id=lead_id, due=write_back_due(timezone.now()))


def crm_step_handle(lead: Lead) -> Outcome:
    """One lead: make sure it exists in Bitrix24, then write back any call outcome not written yet."""
    client = bitrix.client_from_settings()
    if client is None:
        return Skipped(_("Bitrix24 is not connected; the lead is not sent to a CRM."))
    Lead.objects.filter(pk=lead.pk).update(crm_resync=False)
    added: Outcome | None = None
    try:
        if lead.bitrix_lead_id is None:
            added = crm_leads_add(client=client, leads=[lead])[lead.pk]
            if not isinstance(added, Done):
                return added
        _write_back(client, lead)
    except BitrixError as exc:
        return outcome_for(exc)
    return added or Done(_("Bitrix24 lead %(id)s") % {"id": lead.bitrix_lead_id})


def _write_backs_due(leads: list[Lead]) -> list[int]:
    """Those of `leads` (as claimed) with a finished call or an opt-out not yet written back."""
    unwritten = _unwritten_of(leads)
    return [lead.pk for lead in leads if unwritten.get(lead.pk)
            or (lead.status == Lead.Status.OPTED_OUT and not lead.crm_opt_out_written)]


def _unwritten_of(leads: list[Lead]) -> dict[int, list[CallAttempt]]:
    """Lead id -> its finished calls not yet written back (numbered after its crm_synced_attempt), in
    order; one query for all of `leads`."""
    synced = {lead.pk: lead.crm_synced_attempt for lead in leads}
    found: dict[int, list[CallAttempt]] = {}
    if synced:
        for attempt in (CallAttempt.objects.filter(lead__in=list(synced), status__in=WRITTEN_BACK)
                        .select_related("seller").order_by("lead_id", "number")):
            if attempt.number > synced[attempt.lead_id]:
                found.setdefault(attempt.lead_id, []).append(attempt)
    return found


def _write_back(client: BitrixClient, lead: Lead) -> None:
    """The lead's write-back plan (as a batch sends it), one request at a time: each part is recorded once
    Bitrix24 has carried it out, so a failure part-way repeats nothing that went through."""
    for part, step in _write_back_plan(lead, _unwritten_of([lead]).get(lead.pk, [])):
        for method, params in step.values():
            client.call(method, params)
        done = {"crm_opt_out_written": True} if part == "opt-out" else {"crm_synced_attempt": part}
        Lead.objects.filter(pk=lead.pk).update(**done)
        for name, value in done.items():
            setattr(lead, name, value)


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
    if attempt.seller_id:
        text += _(". Seller: %(name)s, talked %(s)d s") % {"name": attempt.seller, "s": attempt.talk_time or 0}
    if attempt.record_url:
        text += _(". Recording: %(url)s") % {"url": attempt.record_url}
    return text


def _safely(handler, lead: Lead) -> Outcome:
    try:
        return handler(lead)
    except BitrixError as exc:
        return outcome_for(exc)
    except Exception as exc:  # a bug: retried, then manual handling, like any step
        logger.exception("crm step of lead %s failed", lead.pk)
        return Retry(f"{type(exc).__name__}: {exc}")


def _apply(lead: Lead, outcome: Outcome, fence) -> None:
    if not pipeline.step_outcome_apply(step_name="crm", lead=lead, outcome=outcome, fence=fence):
        _resync(lead, fence)


def _apply_all(results: list[tuple[Lead, Outcome, object]]) -> None:
    recorded = pipeline.step_outcomes_apply(step_name="crm", results=results)
    for lead, _outcome, fence in results:
        if lead.pk not in recorded:
            _resync(lead, fence)


def _resync(lead: Lead, fence) -> None:
    """A result not recorded: if a call outcome arrived while we ran (crm_resync), run again now rather
    than after the lease."""
    if Lead.objects.filter(pk=lead.pk, crm_resync=True, crm_state=Lead.StepState.RUNNING, crm_due_at=fence).update(
            crm_state=Lead.StepState.PENDING, crm_due_at=timezone.now()):
        pipeline.lead_dispatch(lead.pk, steps=["crm"])
