"""The call step: dial through VoxImplant, take the scenario's result, route the lead.

A CallAttempt row is written before StartScenarios is sent; it is the done-marker. A try whose
answer was lost (timeout, crash) leaves the row in STARTING, and the next try looks the session up
in the call history before it dials again, so a lead is never dialled twice by accident.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Exists, F, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dnc.numbers import number_hash, number_lock
from dnc.models import Entry
from dnc.services import dnc_entry_applying, dnc_entry_applying_id
from leadcaller import metrics
from leadcaller.compiled import CompiledInsert, CompiledRead, CompiledUpdate, CompiledUpdates
from leads import services as lead_services
from leads.models import Lead, LeadEvent, VoicemailAction
from leads.pipeline import Done, Later, Manual, Outcome, Retry, Skipped, Wait, step_outcome_apply
from leads.timeline import timeline_batch
from messaging.services import message_follow_up_plan
from telephony import voximplant
from telephony.call_plan import calls_counted, next_call_at
from telephony.call_window import next_allowed, wait_reason, window_around
from telephony.models import CallAttempt
from telephony.ceilings import ceiling_hit_record
from telephony.disclosure import CALLBACK_DIGIT, disclosure_settings
from telephony.opt_out import listed_outcome, opt_out_record
from telephony.policy import (
    CallSettings, budget_block, call_settings_for, dials_of, not_callable_reason, unknown_site_reason,
)
from telephony.scenario import scenario_version
from sellers.routing import sellers_release
from telephony.seller_calls import in_progress_limit, seller_result_apply, seller_settings, sellers_next
from telephony.tokens import attempt_token, attempt_token_valid

logger = logging.getLogger(__name__)

Status, Result = CallAttempt.Status, CallAttempt.Outcome
CUSTOM_DATA_LIMIT = 200  # bytes; the documented cap on a session's custom data
# The call history may lag behind StartScenarios; absence is trusted only after this long.
HISTORY_LAG = timedelta(seconds=20)
RETRY_LATER = (Result.VOICEMAIL, Result.NO_ANSWER, Result.BUSY)
CLOSED = (Lead.Status.REACHED, Lead.Status.HANDLED, Lead.Status.SPAM, Lead.Status.OPTED_OUT)


class CallbackRefused(Exception):
    """Unknown attempt or wrong token: nothing is changed."""


@dataclass(frozen=True)
class CallResult:
    attempt_id: int
    token: str
    result: str
    duration: int = 0
    digits: str = ""
    session_id: int | None = None
    detail: str = ""
    scenario_version: int | None = None  # None: a scenario older than the version handshake
    seller_id: int | None = None  # result "connected": who talked to the lead
    talk_time: int | None = None  # seconds the seller and the lead were joined
    recording_url: str = ""


# --- the step handler -------------------------------------------------------------------------
def call_step_handle(lead: Lead) -> Outcome:
    if lead.status in CLOSED:  # marked reached or handled while the call was due: the cadence ends
        return _closed(lead)
    reason = unknown_site_reason(lead)
    if reason:  # the card says so; an alert per lead would let anyone flood the alerts chat
        return Manual(reason, alert=False)
    client = voximplant.client_from_settings()
    cfg = call_settings_for(lead.site)
    if client is None or not cfg.rule_id or not cfg.caller_id:
        return Manual(_("Automatic calling is not configured; call the lead by hand."))
    # first_dial_at is written with the first attempt: without it there is none to look up.
    latest = lead.call_attempts.order_by("-number").first() if lead.first_dial_at else None
    if latest is not None and latest.status == Status.STARTING:
        outcome = _reconcile_start(client, latest)
        if outcome is not None:
            return outcome
    elif latest is not None and latest.status == Status.STARTED:
        return _watchdog(client, lead, latest, cfg)
    return _dial(client, lead, cfg, latest=latest)


def _lead_locked_read(*, pk: int, site_id: int, phone_hash: str, partner_id: int | None = None) -> QuerySet[Lead]:
    # FOR NO KEY UPDATE, as no key changes: dials, results and the admin still queue on these rows, but the
    # foreign-key checks of a new lead of the site, or of an entry in this lead's timeline, do not wait.
    return (Lead.objects.select_related("site").select_for_update(of=("self", "site"), no_key=True).filter(pk=pk)
            .only("status", "site__id")
            .annotate(listed_id=dnc_entry_applying_id(phone_hash=phone_hash, site_id=site_id, partner_id=partner_id)))


_attempt_insert = CompiledInsert(CallAttempt)
# The first attempt's time, and an "ignore the hours" (a person's "call now") spent: one statement, not two.
_lead_dialled = CompiledUpdate(
    lambda pk, at: (Lead.objects.filter(Q(call_ignore_hours=True) | Q(first_dial_at=None), pk=pk),
                    {"call_ignore_hours": False, "first_dial_at": Coalesce(F("first_dial_at"), Value(at))}),
    pk=int, at=datetime)
# Written before StartScenarios: what a later try looks the session up by in the call history.
_attempt_custom_data = CompiledUpdate(
    lambda pk, custom_data: (CallAttempt.objects.filter(pk=pk), {"custom_data": custom_data}),
    pk=int, custom_data=str)
# By whether the lead has a partner (a partner's listings apply then): the two shapes of the statement.
_lead_locked: dict[bool, CompiledRead[Lead]] = {
    False: CompiledRead(_lead_locked_read, pk=int, site_id=int, phone_hash=str),
    True: CompiledRead(_lead_locked_read, pk=int, site_id=int, phone_hash=str, partner_id=int),
}


def _dial(client: voximplant.VoximplantClient, lead: Lead, cfg: CallSettings, *,
          latest: CallAttempt | None = None) -> Outcome:
    """`latest`: the lead's last attempt, read by this claimed run (no other run dials this lead)."""
    now = timezone.now()
    reason = not_callable_reason(lead.phone, cfg)
    if reason:
        return Manual(reason)
    # A first dial reads the window the lead arrived in (for the speed-to-lead metric); dialled inside it, as
    # nearly every first dial is, that one look-up also says now is allowed.
    arrival = window_around(cfg, lead.created_at, phone=lead.phone) if latest is None else None
    inside_arrival = arrival is not None and now < arrival[1]
    at = now if lead.call_ignore_hours or inside_arrival else next_allowed(cfg, now, phone=lead.phone)
    if at is None or at > now:
        listed = dnc_entry_applying(phone=lead.phone, site_id=lead.site_id, partner_id=lead.partner_id)
        if listed is not None:  # ends now, rather than waiting for a calling hour to say so
            return listed_outcome(lead, listed)
    if at is None:
        return Manual(_("There are no calling hours in the next three weeks."))
    if at > now:
        return Later(at, wait_reason(cfg, now, phone=lead.phone) or _("outside calling hours"))
    with transaction.atomic():
        # First the number's lock (dnc/numbers.py): an opt-out either shows in the statement below or comes
        # after the attempt.
        number_lock(lead.phone)
        # The lead's row, as closing it in the admin takes it (leads/handling.py): a lead marked handled
        # before this point is never dialled; one marked after it sees this attempt. The site's row, in the
        # same statement, serialises the budget check; and the number's entry on the do-not-call list.
        keys = {"pk": lead.pk, "site_id": lead.site_id, "phone_hash": number_hash(lead.phone)}
        if lead.partner_id is not None:
            keys["partner_id"] = lead.partner_id
        locked = _lead_locked["partner_id" in keys].first(**keys)
        if locked.listed_id is not None:
            return listed_outcome(lead, Entry.objects.get(pk=locked.listed_id))
        if locked.status in CLOSED:
            return _closed(lead)
        block = budget_block(lead, cfg, now)
        if block is not None:
            if block.ceiling:  # one alert for the period, not one per lead
                ceiling_hit_record(block=block, site=lead.site)
            return Manual(block.reason, alert=not block.ceiling)
        number = (latest.number if latest is not None else 0) + 1
        attempt = _attempt_insert.insert(CallAttempt(lead=lead, site_id=lead.site_id, number=number, phone=lead.phone))
        _lead_dialled.run(pk=lead.pk, at=attempt.created_at)
        attempt.custom_data = _custom_data(attempt, cfg)
        _attempt_custom_data.run(pk=attempt.pk, custom_data=attempt.custom_data)
    return _start(client, attempt, cfg, arrived_in_hours=arrival is not None)


def _closed(lead: Lead) -> Outcome:
    return Skipped(_("The lead was closed (%(status)s): no more calls.") % {
        "status": Lead.Status(Lead.objects.filter(pk=lead.pk).values_list("status", flat=True).first()).label})


def _start(client: voximplant.VoximplantClient, attempt: CallAttempt, cfg: CallSettings, *,
           arrived_in_hours: bool) -> Outcome:
    try:
        started = client.start_scenarios(rule_id=cfg.rule_id, custom_data=attempt.custom_data)
    except voximplant.VoximplantError as exc:
        if exc.maybe_started:  # stays STARTING: the next try reconciles before dialling
            CallAttempt.objects.filter(pk=attempt.pk).update(detail=str(exc)[:300])
            return Retry(_("VoxImplant did not confirm the call: %(error)s") % {"error": exc})
        CallAttempt.objects.filter(pk=attempt.pk).update(status=Status.FAILED, detail=str(exc)[:300])
        if exc.retryable:
            return Retry(_("VoxImplant refused the call for now: %(error)s") % {"error": exc})
        return Manual(_("VoxImplant refused the call: %(error)s") % {"error": exc})
    now = timezone.now()
    if attempt.number == 1:
        _speed_to_lead_observe(attempt.lead, now, arrived_in_hours=arrived_in_hours)
    return _started(attempt, started.session_id, started.media_session_url, now)


def _speed_to_lead_observe(lead: Lead, now: datetime, *, arrived_in_hours: bool) -> None:
    # A lead that came outside calling hours waited for them on purpose: kept apart from the rest.
    arrival = "in_hours" if arrived_in_hours else "out_of_hours"
    metrics.SPEED_TO_LEAD.labels(arrival=arrival).observe((now - lead.created_at).total_seconds())


def _started(attempt: CallAttempt, session_id: int, media_url: str, started_at: datetime) -> Outcome:
    if not _attempt_started.run(pk=attempt.pk, started_at=started_at, session_id=session_id, media_url=media_url):
        # A fast scenario reported (and finished the attempt) already: its status stays.
        CallAttempt.objects.filter(pk=attempt.pk).update(session_id=session_id, media_session_url=media_url)
    logger.info("call attempt %s started, session %s", attempt.number, session_id)
    return Wait(started_at + timedelta(seconds=settings.CALL_RESULT_TIMEOUT),
                _("calling %(phone)s, attempt %(n)d") % {"phone": attempt.phone, "n": attempt.number})


# Sent after every StartScenarios that VoxImplant answered.
_attempt_started = CompiledUpdate(
    lambda pk, started_at, session_id, media_url: (
        CallAttempt.objects.filter(pk=pk, status=Status.STARTING),
        {"status": Status.STARTED, "started_at": started_at, "session_id": session_id, "media_session_url": media_url}),
    pk=int, started_at=datetime, session_id=int, media_url=str)


def _custom_data(attempt: CallAttempt, cfg: CallSettings) -> str:
    """Compact JSON for the scenario: id and token always; a voicemail action other than hanging up, phone and
    caller id while it fits (the scenario's fallbacks when its settings request fails)."""
    data = {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk),
            "callback_url": settings.PUBLIC_BASE_URL + reverse("voximplant-callback")}
    fallbacks = [("phone", attempt.phone), ("caller_id", cfg.caller_id)]
    if cfg.voicemail_action != VoicemailAction.HANG_UP:  # "vm": "m" or "r", 10 bytes; first, as it is the smallest
        fallbacks.insert(0, ("vm", cfg.voicemail_action[0]))
    for key, value in fallbacks:
        longer = json.dumps({**data, key: value}, separators=(",", ":"))
        if len(longer.encode()) <= CUSTOM_DATA_LIMIT:
            data[key] = value
    return json.dumps(data, separators=(",", ":"))


def _reconcile_start(client: voximplant.VoximplantClient, attempt: CallAttempt) -> Outcome | None:
    """An earlier try may have started the session without us hearing it. None: it did not; dial."""
    now = timezone.now()
    try:
        sessions = client.call_history(since=attempt.created_at - timedelta(minutes=2),
                                       until=now + timedelta(minutes=1), custom_data=attempt.custom_data)
    except voximplant.VoximplantError as exc:
        return Retry(_("Cannot tell whether call attempt %(n)d started: %(error)s") % {"n": attempt.number, "error": exc})
    if sessions:
        logger.info("call attempt %s had started after all; not dialling again", attempt.number)
        return _started(attempt, int(sessions[0]["call_session_history_id"]), "", attempt.created_at)
    if now - attempt.created_at < HISTORY_LAG:
        return Retry(_("Waiting for the call history to show attempt %(n)d") % {"n": attempt.number},
                     after=HISTORY_LAG)
    CallAttempt.objects.filter(pk=attempt.pk).update(status=Status.FAILED, detail=_("never started"))
    return None


def _watchdog(client: voximplant.VoximplantClient, lead: Lead, attempt: CallAttempt, cfg: CallSettings) -> Outcome:
    """No result arrived in time: ask the call history what happened."""
    now = timezone.now()
    deadline = attempt.started_at + timedelta(seconds=settings.CALL_RESULT_TIMEOUT)
    if now < deadline:  # an early redelivery: keep waiting
        return Wait(deadline)
    try:
        sessions = client.call_history(since=attempt.created_at - timedelta(minutes=2),
                                       until=now + timedelta(minutes=1), session_ids=[attempt.session_id])
    except voximplant.VoximplantError as exc:
        return Retry(_("No call result, and the call history cannot be read: %(error)s") % {"error": exc})
    session = sessions[0] if sessions else None
    if session is not None and not session.get("finish_reason") and now < deadline + in_progress_limit(attempt):
        return Wait(now + timedelta(minutes=1), _("the call is still in progress"))
    answered = session is not None and any(
        call.get("successful") and (call.get("duration") or 0) > 0 for call in session.get("calls") or []
    )
    lost = CallAttempt.objects.filter(pk=attempt.pk, status=Status.STARTED).update(
        status=Status.LOST, finished_at=now, detail=(session or {}).get("finish_reason") or _("no result"))
    if not lost:  # the result arrived meanwhile and has been routed
        return Wait(now)
    sellers_release(attempt=attempt)
    metrics.CALL_OUTCOMES.labels(outcome="lost").inc()
    lead_services.lead_outcome_announce(lead=lead)
    if answered:
        return Manual(_("The call was answered, but the scenario sent no result."))
    if session is None:
        return Manual(_("No call result, and VoxImplant has no record of the call."))
    return route_outcome(lead, Result.NO_ANSWER, _("no result; the call history shows no answer"), cfg, now)


# --- routing ----------------------------------------------------------------------------------
def route_outcome(lead: Lead, result: str, detail: str, cfg: CallSettings | None, now: datetime) -> Outcome:
    """Reached; another call later (inside calling hours); or manual handling. `cfg`: the site's call
    settings, or None to read them (and the site) only for a result that needs them."""
    label = Result(result).label
    if result == Result.HUMAN:
        return Done(_("reached: %(detail)s") % {"detail": detail} if detail else _("reached"))
    if result == Result.CONNECTED:
        return Done(_("talked to a seller"))
    cfg = cfg or call_settings_for(lead.site)
    if result == Result.SELLER_MISSED:  # the promise the lead heard is kept by a person: alerted now
        due = (now + timedelta(minutes=lead.site.callback_promise_minutes)).astimezone(cfg.tz)  # the site's clock
        return Manual(_("Call back due by %(time)s: the lead asked for a manager and no seller took the call.")
                      % {"time": due.strftime("%H:%M")})
    if result == Result.OPTED_OUT:
        return Skipped(_("The person pressed the opt-out key."))
    if result in RETRY_LATER:
        if lead.status in CLOSED:  # marked reached or handled during the call
            return _closed(lead)
        at, calls = next_call_at(lead, cfg, outcome=result, after=now)
        used = max(1, calls_counted(lead))
        message_follow_up_plan(lead=lead, last=used >= calls, now=now)  # the site's text, if it sends one
        if used >= calls:
            return Manual(_("Not reached after %(n)d calls (last: %(label)s).") % {"n": dials_of(lead), "label": label})
        if at is None:
            return Manual(_("Not reached (%(label)s), and no calling hours soon.") % {"label": label})
        return Later(at, _("%(label)s; call %(next)d of %(max)d") % {"label": label, "next": used + 1, "max": calls})
    return Manual(_("The call failed: %(detail)s") % {"detail": detail or label})


# --- the scenario's callback ------------------------------------------------------------------
# The attempt and its lead, not the site's row: a dial holds that one for its budget check, and a result
# holding it too would make every dial of the site queue behind every result. Nor the site's columns: a
# person reached needs none of them (route_outcome reads them for the other results). FOR NO KEY UPDATE, as
# the dial's locks (_lead_locked_read).
_attempt_locked: CompiledRead[CallAttempt] = CompiledRead(
    lambda pk: (CallAttempt.objects.select_for_update(of=("self", "lead"), no_key=True).select_related("lead")
                .filter(pk=pk)), pk=int)
# Every call asks for its settings once, as it starts: the attempt's status and number and the site, none
# of the lead's columns; only while the attempt is live.
_attempt_live: CompiledRead[CallAttempt] = CompiledRead(
    lambda pk: CallAttempt.objects.select_related("lead__site").only("status", "phone", "lead__site")
    .filter(pk=pk, status__in=(Status.STARTING, Status.STARTED)), pk=int)


# What a result changes in its attempt (here and in seller_result_apply); the statement's shape is which are None.
_RESULT_COLUMNS = ("status", "outcome", "finished_at", "duration", "digits", "detail", "session_id",
                   "scenario_version", "seller_id", "talk_time", "seller_connected_at", "record_url")
_attempt_updates = CompiledUpdates(CallAttempt)


@lru_cache(maxsize=None)
def _call_outcome_announced() -> CompiledUpdate:
    """The lead's last call outcome, with what every outcome sets (leads/services.py). A late result of an
    older attempt does not hide a newer attempt's outcome."""
    def build(pk: int, number: int, outcome: str, now: datetime, due: datetime) -> tuple[QuerySet, dict]:
        newer = CallAttempt.objects.filter(lead=pk, number__gt=number).exclude(outcome="")
        return Lead.objects.filter(pk=pk), {
            "last_call_outcome": Case(When(Exists(newer), then=F("last_call_outcome")), default=Value(outcome)),
            **lead_services.lead_outcome_changes(now, due)}

    return CompiledUpdate(build, pk=int, number=int, outcome=str, now=datetime, due=datetime)


def call_result_record(result: CallResult) -> str:
    """Take a result from the scenario. Returns "applied", "repeat" (already had one) or "late"."""
    _authorise(result.attempt_id, result.token)
    now = timezone.now()
    with transaction.atomic(), timeline_batch():
        if result.result == Result.OPTED_OUT:  # first, as a dial does: the rows locked next include the lead's
            phone = CallAttempt.objects.filter(pk=result.attempt_id).values_list("phone", flat=True).first()
            if phone is None:
                raise CallbackRefused()
            number_lock(phone)
        attempt = _attempt_locked.first(pk=result.attempt_id)
        if attempt is None:
            raise CallbackRefused()
        if attempt.status == Status.FINISHED:
            return "repeat"
        late = attempt.status in (Status.LOST, Status.FAILED)
        attempt.status, attempt.outcome, attempt.finished_at = Status.FINISHED, result.result, now
        attempt.duration, attempt.digits, attempt.detail = result.duration, result.digits[:32], result.detail[:300]
        attempt.session_id = attempt.session_id or result.session_id
        attempt.scenario_version = result.scenario_version
        seller_result_apply(attempt, result, now)
        finished = {name: getattr(attempt, name) for name in _RESULT_COLUMNS}
        _attempt_updates.run(("result", *(name for name, value in finished.items() if value is None)),
                             {"pk": attempt.pk}, finished)
        if result.scenario_version != scenario_version():  # still applied: the call happened
            logger.warning("call attempt %s was reported by scenario version %s, this server expects %s",
                           attempt.pk, result.scenario_version, scenario_version())
        if not late:  # a lost attempt was counted as lost; each attempt counts once
            transaction.on_commit(lambda: metrics.CALL_OUTCOMES.labels(outcome=result.result).inc())
        lead = attempt.lead
        lead_services.lead_outcome_announced(lead_id=lead.pk)
        lead_services.lead_event_add(
            lead=lead, kind=LeadEvent.Kind.CALL_RESULT, step="call",
            message=f"{Result(result.result).label}" + (f": {result.detail}" if result.detail else ""),
            data={"attempt": attempt.number, "duration": result.duration, "digits": result.digits, "late": late},
        )
        if CALLBACK_DIGIT in result.digits and result.result == Result.HUMAN:
            lead_services.lead_event_add(lead=lead, kind=LeadEvent.Kind.NOTE, step="call",
                                         message=_("The person pressed %(digit)s: call back now.") % {"digit": CALLBACK_DIGIT})
        if result.result == Result.OPTED_OUT:  # late or not: a "stop" is never dropped
            opt_out_record(attempt=attempt)
        outcome = None if late else route_outcome(lead, result.result, result.detail, None, now)
        # The lead's row is locked and, unless an opt-out has just ended the lead, as read: the outcome (and a
        # "reached") then go into the statement that records the step's result, not into statements of their own.
        changes = {} if outcome is None or result.result == Result.OPTED_OUT else {
            "last_call_outcome": result.result, **lead_services.lead_outcome_values(lead, now)}
        reached = lead_services.lead_reached_values(lead, now) if changes and isinstance(outcome, Done) else {}
        recorded = outcome is not None and step_outcome_apply(step_name="call", lead=lead, outcome=outcome, fence=None,
                                                               lead_changes={**changes, **reached})
        if not (recorded and changes):
            _call_outcome_announced().run(pk=lead.pk, number=attempt.number, outcome=result.result, now=now,
                                          due=lead_services.write_back_due(now))
        if recorded and reached:
            lead_services.lead_reached_noted(lead)
    return "late" if late else "applied"


def call_settings_payload(*, attempt_id: int, token: str) -> dict:
    """What the scenario needs to place the call, fetched by it at start. Not once the attempt has
    ended: a token seen later (in a log, a history) must not give out the phone number."""
    _authorise(attempt_id, token)
    attempt = _attempt_live.first(pk=attempt_id)
    if attempt is None:
        raise CallbackRefused()
    site = attempt.lead.site
    cfg = call_settings_for(site)
    return {
        "phone": attempt.phone,
        "caller_id": cfg.caller_id,
        "recording_url": site.recording_url,
        "tts_text": site.tts_text or _(
            "Hello! You left a request on %(site)s. A manager will call you back shortly. "
            "Press %(digit)s if you would like a call back right now."
        ) % {"site": site.name or site.domain, "digit": CALLBACK_DIGIT},
        "tts_voice": site.tts_voice,
        "amd_model": site.amd_model,
        "amd_timeout_ms": 6500,
        "callback_digit": CALLBACK_DIGIT,
        "key_wait_seconds": 5,
        "voicemail_action": site.voicemail_action,
        "voicemail_url": site.voicemail_url,
        **disclosure_settings(site),
        **seller_settings(site),
        "scenario_version": scenario_version(),
    }


def sellers_for_attempt(*, attempt_id: int, token: str, missed: list[int]) -> list[dict]:
    """The scenario's request for the next seller(s); refused once the attempt has ended, like the settings."""
    attempt = _authorised_attempt(attempt_id, token)
    if attempt.status not in (Status.STARTING, Status.STARTED):
        raise CallbackRefused()
    return sellers_next(attempt=attempt, missed=missed)


def _authorised_attempt(attempt_id: int, token: str) -> CallAttempt:
    _authorise(attempt_id, token)
    attempt = CallAttempt.objects.select_related("lead__site").filter(pk=attempt_id).first()
    if attempt is None:
        raise CallbackRefused()
    return attempt


def _authorise(attempt_id: int, token: str) -> None:
    """The token before any read: a forged callback costs no query."""
    if not attempt_token_valid(attempt_id, token):
        raise CallbackRefused()
