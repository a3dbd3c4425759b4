"""Writes for leads: intake with the ref rule, the timeline, manual handling, intake counters."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from consent.services import ConsentGiven, consent_proof_record
from leadcaller.logging import bind_lead
from leadcaller.compiled import CompiledInsert, CompiledUpdate
from leads import hooks
from leads.models import IntakeCounter, Lead, LeadEvent, Site, SubmissionKey
from leads.selectors import partner_match
from leads.texts import Text, text, text_parse
from leads.timeline import timeline_add

logger = logging.getLogger(__name__)

# In a lead's extra fields: the partner code it was posted with when that code names no active partner.
UNKNOWN_PARTNER_KEY = "unknown_partner_code"


@dataclass(frozen=True)
class LeadData:
    """A validated submission, independent of how it arrived (JSON, form, Corezoid envelope)."""

    phone_raw: str
    phone: str
    name: str = ""
    email: str = ""
    comment: str = ""
    order_amount: Decimal | None = None
    currency: str = ""
    ref: str = ""
    partner_code: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IntakeResult:
    lead: Lead
    duplicate: bool


def lead_intake(
    *,
    data: LeadData,
    site: Site,
    site_unknown: bool = False,
    client_ip: str | None = None,
    user_agent: str = "",
    raw_request: dict[str, Any] | None = None,
    consent: ConsentGiven | None = None,
    submission_key: str = "",
) -> IntakeResult:
    """Store a lead (with the proof of its consent, when given) and start its pipeline after commit,
    unless its ref already has an open lead.

    The ref rule is enforced by a conditional unique index, so two concurrent posts with one ref
    cannot both insert: the loser's insert writes nothing and it answers with the winner's lead.
    A form builder's `submission_key` is unique per site the same way: a repeat, even one racing
    the first, answers with the first post's lead and changes nothing.
    """
    from leads import pipeline  # the pipeline imports this module
    from leads.builders import submission_key_bind, submission_key_bind_expired_clear, submission_key_lead

    ref = data.ref or data.phone
    if submission_key:
        submission_key_bind_expired_clear(site=site, key=submission_key)
    now = timezone.now()
    partner, code_unknown = partner_match(code=data.partner_code, utm_source=data.utm_source)
    lead = Lead(
        ref=ref,
        site=site,
        site_unknown=site_unknown,
        partner=partner,
        name=data.name,
        phone_raw=data.phone_raw,
        phone=data.phone,
        email=data.email,
        comment=data.comment,
        order_amount=data.order_amount,
        currency=(data.currency or site.currency).upper() if data.order_amount is not None else "",
        utm_source=data.utm_source,
        utm_medium=data.utm_medium,
        utm_campaign=data.utm_campaign,
        utm_term=data.utm_term,
        utm_content=data.utm_content,
        extra={**data.extra, UNKNOWN_PARTNER_KEY: data.partner_code.strip()} if code_unknown else data.extra,
        client_ip=client_ip,
        user_agent=user_agent[:400],
        raw_request=raw_request or {},
        **pipeline.initial_step_fields(now),
    )
    # Twice at most: the open lead that held the ref may close between the INSERT and the look-up.
    for _try in range(2):
        try:
            with transaction.atomic():
                # Nothing is written when an open lead holds the ref (`lead_one_open_per_ref`): nearly every
                # post is a new lead, so the rule costs no statement of its own.
                stored = _lead_insert.insert_new(lead)
                if stored:
                    bind_lead(lead.public_id)  # before commit, so the queued tasks carry it
                    if submission_key:
                        SubmissionKey.objects.create(site=site, key=submission_key, lead=lead)
                    if consent is not None:
                        consent_proof_record(lead=lead, consent=consent, ip=client_ip, user_agent=user_agent, at=now)
                    lead_event_add(
                        lead=lead,
                        kind=LeadEvent.Kind.RECEIVED,
                        message=text("received_unknown_site" if site_unknown else "received", domain=site.domain),
                        data={"ip": client_ip, "partner": lead.partner.code if lead.partner else None,
                              "consent": consent is not None},
                    )
                    if code_unknown:
                        lead_event_add(lead=lead, kind=LeadEvent.Kind.NOTE,
                                       message=text("partner_unknown", code=data.partner_code.strip()))
                    transaction.on_commit(lambda: pipeline.lead_dispatch(lead.pk))
        except IntegrityError:  # the form builder's submission key, taken by a post racing this one
            first = submission_key_lead(site=site, key=submission_key) if submission_key else None
            if first is not None:
                return IntakeResult(first, duplicate=True)
            raise
        if stored:
            logger.info("lead stored", extra={"site": site.domain})
            return IntakeResult(lead, duplicate=False)
        existing = _open_lead(site, ref)
        if existing is not None:
            break
    else:  # closed under it twice running: a brief conflict, which the client is asked to retry (503)
        raise OperationalError(f"the ref of a lead of site {site.pk} is held, and no open lead holds it")
    if submission_key:
        first = submission_key_bind(site=site, key=submission_key, lead=existing)
        if first.pk != existing.pk:
            return IntakeResult(first, duplicate=True)
    bind_lead(existing.public_id)
    lead_event_add(
        lead=existing, kind=LeadEvent.Kind.DUPLICATE, message=text("duplicate", ref=ref),
        data={"ip": client_ip},
    )
    intake_count(kind=IntakeCounter.Kind.DUPLICATE, site=site)
    logger.info("duplicate lead refused")
    return IntakeResult(existing, duplicate=True)


def _open_lead(site: Site, ref: str) -> Lead | None:
    # No ORDER BY: `lead_one_open_per_ref` allows one open lead per ref, and without one PostgreSQL may
    # walk the site's whole history backwards by `created_at` (it did on a new database, with no statistics
    # yet: every intake read every lead of its site) instead of probing that unique index.
    # (first() would add one by the primary key.)
    found = Lead.objects.filter(site=site, ref=ref, status__in=Lead.OPEN_STATUSES).order_by()[:1]
    return next(iter(found), None)


def lead_event_add(
    *, lead: Lead, kind: str, step: str = "", message: str | Text = "", data: dict | None = None, actor: Any = None
) -> LeadEvent:
    """Append to the timeline. `message` is a `Text` (a code shown in the viewer's language) or, the old
    way, a sentence (shown as written, or translated when leads/texts.py knows it)."""
    code, params, message = _text_parts(message)
    return timeline_add(LeadEvent(
        lead=lead, kind=kind, step=step, message=message[:500], code=code, params=params, data=data or {},
        actor=actor,
    ))


def _text_parts(message: str | Text) -> tuple[str, dict, str]:
    """(code, params, English sentence) of what is to be stored. A sentence written the old way is stored
    with its code too when it is one of leads/texts.py's messages (the step engine's reasons are)."""
    if isinstance(message, Text):
        return message.code, message.params, message.english()
    message = str(message)
    code, params = text_parse(message) or ("", {})
    return code, params, message


def lead_to_manual(*, lead: Lead, reason: str | Text, step: str = "", actor: Any = None, alert: bool = True) -> bool:
    """Put an open lead into manual handling (with a Telegram alert unless `alert` is False).
    Returns False when it already was (or is closed). `reason`: a `Text`, or (the old way) a sentence."""
    code, params, sentence = _text_parts(reason)
    moved = Lead.objects.filter(
        pk=lead.pk, status__in=[Lead.Status.IN_PROGRESS, Lead.Status.SCHEDULED]
    ).update(status=Lead.Status.MANUAL, manual_reason=sentence[:300], manual_code=code, manual_params=params,
             manual_since=timezone.now(), updated_at=timezone.now())
    if moved:
        lead.status, lead.manual_reason = Lead.Status.MANUAL, sentence[:300]
        lead.manual_code, lead.manual_params = code, params
        reason = sentence
        lead_event_add(lead=lead, kind=LeadEvent.Kind.MANUAL, step=step, message=Text(code, params) if code
                       else sentence, actor=actor)
        if alert:
            hooks.lead_manual(lead, reason)
        hooks.lead_changed(lead)
        logger.warning("lead needs manual handling: %s", reason)
    return bool(moved)


def lead_reached_values(lead: Lead, now: datetime) -> dict[str, Any]:
    """The person answered: the lead is finished, and its ref is free again. The columns that say so, for a
    caller that holds the lead's row locked and writes them with its own UPDATE of it (then
    lead_reached_noted); none when the lead had ended already."""
    if lead.status not in Lead.OPEN_STATUSES:
        return {}
    return {"status": Lead.Status.REACHED, "closed_at": now, "updated_at": now}


def lead_reached_noted(lead: Lead) -> None:
    """After lead_reached_values() were written. The caller's step result has told the lead's listeners."""
    lead_event_add(lead=lead, kind=LeadEvent.Kind.STATUS, message=text("reached_by_phone"))


def lead_opted_out(*, lead: Lead, reason: str) -> bool:
    """The number may not be called (its owner pressed the opt-out key, or it is on the do-not-call
    list): an open lead ends "opted out", a call still due is cancelled, its ref is free again, and the
    CRM and the card say why. Returns False when the lead had ended already (it stays as it was)."""
    now = timezone.now()
    moved = Lead.objects.filter(pk=lead.pk, status__in=Lead.OPEN_STATUSES).update(
        status=Lead.Status.OPTED_OUT, opt_out_reason=reason[:300], closed_at=now, updated_at=now)
    if not moved:
        return False
    Lead.objects.filter(pk=lead.pk, call_state=Lead.StepState.PENDING).update(
        call_state=Lead.StepState.SKIPPED, scheduled_at=None)
    lead.status, lead.opt_out_reason, lead.closed_at = Lead.Status.OPTED_OUT, reason[:300], now
    lead_event_add(lead=lead, kind=LeadEvent.Kind.STATUS, message=text("opted_out", reason=reason))
    lead_outcome_announce(lead=lead)
    hooks.lead_changed(lead)
    return True


def step_result_handle(step_name: str, results: list[tuple[Lead, Any]]) -> None:
    """Step listener (leads/pipeline.py): a step that gave up puts its lead into manual handling."""
    from leads.pipeline import Manual

    for lead, outcome in results:
        if isinstance(outcome, Manual):
            lead_to_manual(lead=lead, reason=outcome.reason, step=step_name, alert=outcome.alert)


def lead_outcome_announce(*, lead: Lead) -> None:
    """A call outcome is known: the steps that report it (the CRM's write-back) learn of it here."""
    now = timezone.now()
    _outcome_announced().run(pk=lead.pk, now=now, due=write_back_due(now))
    lead_outcome_announced(lead_id=lead.pk)


def write_back_due(now: datetime) -> datetime:
    """When an outcome known `now` is written back to the CRM: CRM_WRITE_BACK_GATHER later, in one batch
    with the others of that span (leads/crm.py claims those due within the span together)."""
    return now + timedelta(seconds=settings.CRM_WRITE_BACK_GATHER)


def lead_outcome_changes(now: datetime, due: datetime) -> dict[str, Any]:
    """The lead's columns that a call outcome sets, for a caller that sets more of them in the same
    statement (then lead_outcome_announced): its CRM write-back is due at `due` (write_back_due), the CRM
    step reopened if done."""
    from leads import pipeline

    return {"crm_resync": True, **pipeline.step_reopen_changes("crm", now, due)}


def lead_outcome_values(lead: Lead, now: datetime) -> dict[str, Any]:
    """lead_outcome_changes() for a lead whose row the caller holds locked and has not changed since reading
    it: plain values, to go into the caller's own UPDATE of the row (then lead_outcome_announced)."""
    from leads import pipeline

    return {"crm_resync": True, **pipeline.step_reopen_values("crm", lead, now, write_back_due(now))}


def lead_outcome_announced(*, lead_id: int) -> None:
    """After lead_outcome_changes() (or lead_outcome_values()) were written: the CRM step's claimer comes
    after commit, when the write-back is due."""
    from leads import pipeline

    transaction.on_commit(lambda: pipeline.lead_dispatch(lead_id, steps=["crm"],
                                                         countdown=settings.CRM_WRITE_BACK_GATHER))


# Left out of the lead's INSERT: columns no intake sets, which take its parameters from 53 to 46, under
# psycopg's 50 above which a statement's parsing is not cached (psycopg/_queries.py) and is redone per post.
_lead_insert = CompiledInsert(Lead, left_null=("manual_since", "erased_at", "assigned_to", "closed_at",
                                               "bitrix_lead_id", "crm_sent_at", "first_dial_at"),
                              ignore_conflicts=True)


@lru_cache(maxsize=None)
def _outcome_announced() -> CompiledUpdate:
    return CompiledUpdate(lambda pk, now, due: (Lead.objects.filter(pk=pk), lead_outcome_changes(now, due)),
                          pk=int, now=datetime, due=datetime)


def intake_count(*, kind: str, site: Site | None) -> None:
    """Add one to the current quarter hour's counter; safe under concurrent posts."""
    slot = IntakeCounter.slot_of(timezone.now())
    counters = IntakeCounter.objects.filter(slot=slot, site=site, kind=kind)
    if counters.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            IntakeCounter.objects.create(slot=slot, site=site, kind=kind, count=1)
    except IntegrityError:
        counters.update(count=F("count") + 1)
