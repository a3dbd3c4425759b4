"""The lead pipeline: three steps (crm, call, notify) that run side by side after intake.

Each step's state lives on the Lead row (`<step>_state`, its due time, its try counter). A task
only carries the lead id: it claims the step with a conditional UPDATE, runs the step's handler,
and records the outcome. The lease end written by the claim doubles as a fencing token, so a
worker whose lease ran out cannot overwrite the result of the worker that took the step over.
`<step>_tries` counts claims since the step last made progress; a step gives up after
`max_tries` failed claims in a row.

Delayed work is a due time on the row, never a long Celery countdown; the sweeper
(`dispatch_due`, run by beat) re-sends any step that is due and was never picked up.

This is the bottom layer of the leads: it imports no service above it. What a recorded result sets
off elsewhere (manual handling, the seller's card) goes through the step listeners that those
modules register when Django starts (`step_listener_add`).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest
from django.dispatch import receiver
from django.utils import timezone
from django.utils.module_loading import import_string

from leadcaller import metrics
from leadcaller.compiled import CompiledRead, CompiledUpdate, CompiledUpdates
from leadcaller.db import rows_locked
from leadcaller.logging import bind_lead, lead_context
from leads.models import Lead, LeadEvent
from leads.timeline import timeline_add

logger = logging.getLogger(__name__)

State = Lead.StepState
OPEN_STATES = (State.PENDING, State.RUNNING)
# A step whose lease ran out is sent again by the sweeper at once (its task died with its worker);
# one whose message was never claimed, after its `requeue_after`. A call task is claimed within a
# second when all is well (its worker does nothing else), so a call's message counts as lost sooner.
REQUEUE_AFTER = timedelta(seconds=60)
# Retries due sooner than this go out as a Celery countdown; later ones wait for the sweeper.
COUNTDOWN_LIMIT = timedelta(seconds=60)


# --- What a step handler returns --------------------------------------------------------------
@dataclass(frozen=True)
class Done:
    message: str = ""


@dataclass(frozen=True)
class Skipped:
    message: str


@dataclass(frozen=True)
class Retry:
    reason: str
    after: timedelta | None = None  # None: exponential backoff with jitter from the try count


@dataclass(frozen=True)
class Manual:
    reason: str
    # False: no Telegram alert for this lead (a spending ceiling alerts once for all it refuses).
    alert: bool = True


@dataclass(frozen=True)
class Wait:
    """The step goes on outside the worker (a call in progress); look again at `until` at the latest."""

    until: datetime
    message: str = ""


@dataclass(frozen=True)
class Later:
    """Nothing failed, but the step may only run at `at` (calling hours, the next call of a lead)."""

    at: datetime
    reason: str


@dataclass(frozen=True)
class Defer:
    """Not a failure: a shared resource (a remote's rate limit) has no room now. Try again after
    `after`; the claim does not count as a try."""

    after: timedelta
    reason: str


Outcome = Done | Skipped | Retry | Manual | Wait | Later | Defer

# Called as listener(step_name, results) with the (lead, outcome) pairs recorded together (one, or a
# claimer's batch), inside their transaction: a batch costs a listener a few statements, not a few per lead.
StepListener = Callable[[str, list[tuple[Lead, Outcome]]], None]
_step_listeners: list[StepListener] = []


def step_listener_add(listener: StepListener) -> StepListener:
    """Register what a recorded step result sets off above the engine (once, however often called)."""
    if listener not in _step_listeners:
        _step_listeners.append(listener)
    return listener


@dataclass(frozen=True)
class Step:
    name: str
    due_field: str
    handler: str  # dotted path of `handler(lead) -> Outcome`
    task: str  # Celery task name; its queue comes from CELERY_TASK_ROUTES
    lease: timedelta  # a few seconds longer than the longest a run can take (its task's hard time limit)
    max_tries: int
    backoff_base: float = 5.0
    backoff_cap: float = 900.0
    # Further conditions for recording a result: the crm step's result is void once a call outcome
    # has arrived during the run (crm_resync), so the step runs again and writes it back.
    fence_extra: tuple[tuple[str, object], ...] = ()
    # "Scheduled" means the next call is later: only claiming the call step ends it, never a CRM
    # write-back or a card update that happens meanwhile.
    resumes_scheduled: bool = False
    # A step whose due work is taken in batches by one claimer task (this Celery task name) instead of
    # a task per lead: new, deferred and reopened leads only make sure a claimer is on its way.
    claimer: str = ""
    # A message for this step not claimed within this time is sent again by the sweeper (lost with the
    # broker, or with a worker that took it and died before claiming).
    requeue_after: timedelta = REQUEUE_AFTER
    # Seconds a claimer waits after the lead that kicked it, so that leads arriving together are taken in
    # one batch (a step nobody waits on).
    gather: float = 0.0

    @property
    def state_field(self) -> str:
        return f"{self.name}_state"

    @property
    def tries_field(self) -> str:
        return f"{self.name}_tries"

    @property
    def queued_field(self) -> str:
        return f"{self.name}_queued_at"


# The call task's limits (telephony/tasks.py): a dial is one VoxImplant request (10 s read timeout),
# after a call-history look-up when an earlier start went unanswered; the soft limit turns a stuck run
# into a retry, the hard one kills it. Its lease ends a few seconds after the hard limit, so a lead whose
# worker died is dialled again within seconds, never while its first run may still be going.
CALL_SOFT_TIME_LIMIT = 20
CALL_TIME_LIMIT = 25
# The CRM and notify steps run on the thread pool, which enforces no time limit: their leases cover
# their requests' own timeouts. The CRM claimer sends one request per claim (a batch of adds, or of
# write-backs): up to 2 s for its token, then up to BITRIX_MAX_EXECUTION_TIME + 5 s (65 s) for the
# answer; a run that outlives its lease loses only its result (the fence), and an add is looked up
# before it is repeated.
# The notify claimer makes and records a batch's cards in a few statements, before it delivers any.
STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step("call", "scheduled_at", "telephony.services.call_step_handle", "telephony.tasks.call_step",
             lease=timedelta(seconds=CALL_TIME_LIMIT + 5), max_tries=6, backoff_base=2.0, backoff_cap=120.0,
             resumes_scheduled=True, requeue_after=timedelta(seconds=20)),
        Step("crm", "crm_due_at", "leads.crm.crm_step_handle", "leads.tasks.crm_step",
             lease=timedelta(seconds=100), max_tries=8, fence_extra=(("crm_resync", False),),
             claimer="leads.tasks.crm_claim"),
        Step("notify", "notify_due_at", "notifications.services.notify_step_handle", "notifications.tasks.notify_step",
             lease=timedelta(seconds=30), max_tries=8, claimer="notifications.tasks.notify_claim", gather=1.0),
    )
}


def backoff(step: Step, tries: int) -> timedelta:
    """Exponential backoff with full jitter: spreads retries of many leads that failed together."""
    ceiling = min(step.backoff_cap, step.backoff_base * 2 ** max(tries - 1, 0)) * settings.RETRY_BACKOFF_SCALE
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def initial_step_fields(now: datetime) -> dict[str, object]:
    """Field values for a new lead: every step due now, its first message about to be sent."""
    fields: dict[str, object] = {}
    for step in STEPS.values():
        fields[step.due_field] = now
        fields[step.queued_field] = now
    return fields


def lead_dispatch(lead_id: int, *, steps: list[str] | None = None, countdown: float | None = None) -> None:
    """Send the task of each named step (all by default), `countdown` seconds from now (when they are due).
    Call only after the lead is committed."""
    for name in steps or list(STEPS):
        _send(STEPS[name], lead_id, countdown=countdown)


# How long one claimer task goes on taking due work before it hands over to the next (a fresh task).
CLAIMER_BUDGET = 20.0
# A claimer on its way (the moment it is due, unix seconds) is kept this long past that moment: if its
# message was lost, kicks are sent again after that (and the sweeper kicks whenever work is due).
KICK_GRACE = 30.0
# Work due this long with no claimer having taken it: its kick was lost (the broker was down), or the
# claimers fell behind; the sweeper kicks one.
CLAIMER_OVERDUE = timedelta(seconds=10)


def claimer_kick(step: Step, *, countdown: float = 0.0, force: bool = False) -> bool:
    """Make sure the step's claimer runs within `countdown` seconds (+1). Returns True when this sent one.
    One kick stands for every lead due by then, so a burst costs a few claimer tasks, not one per lead.
    `force`: send one whatever the last kick said (the sweeper found work that no claimer took in time:
    the one that kick sent may have died with its worker)."""
    now = time.time()
    at = now + max(countdown, 0.0)
    if not force and _coming_by(step, at, now) is not None:
        return False  # this process knows of a claimer that has not started yet: it takes this lead too
    key, timeout = f"claimer-kick:{step.name}", int(countdown + KICK_GRACE)
    try:
        if force:
            cache.set(key, at, timeout=timeout)
        else:
            pending = _kick_noted(key, at, timeout)
            if pending is not None:
                _coming_note(step, pending, now)
                return False  # a claimer comes by then and takes this lead too
    except Exception:  # the cache is down: send; a claimer too many costs one empty run
        logger.warning("could not note the %s claimer's kick", step.name, exc_info=True)
    try:
        current_app.send_task(step.claimer, countdown=countdown or None)
    except Exception:  # the broker is down: the sweeper kicks once it is back
        logger.warning("could not queue the %s claimer; the sweeper will retry", step.name, exc_info=True)
        cache_forget(step)
        return False
    _coming_note(step, at, now)
    return True


def _kick_noted(key: str, at: float, timeout: int) -> float | None:
    """Note a claimer due at `at`, unless one is due by then already (returns when that one is due). Read
    first: in a burst nearly every kick finds one, and a read is one round trip to Redis where add-then-read
    is two."""
    pending = cache.get(key)
    if pending is None:
        if cache.add(key, at, timeout=timeout):
            return None
        pending = cache.get(key)  # another kick noted one meanwhile
    if pending is not None and float(pending) <= at + 1.0:
        return float(pending)
    cache.set(key, at, timeout=timeout)
    return None


# By step: the soonest claimer this process knows to be on its way and not yet started (unix seconds). Its
# message is in the broker, due then; whatever the cache says meanwhile (a claimer that ends clears it), it
# comes, and sees every lead committed before it starts. A kick for a gathering step (notify, a CRM
# write-back) then costs no round trip to Redis until shortly before that moment (the margin: another
# host's clock, a timer firing early).
_coming: dict[str, float] = {}
COMING_MARGIN = 0.2


@receiver(setting_changed)
def _coming_forget(setting: str, **kwargs: object) -> None:
    if setting == "CACHES":  # the note and the cache's key stand for the same claimers: a new cache (tests), none
        _coming.clear()


def _coming_by(step: Step, at: float, now: float) -> float | None:
    due = _coming.get(step.name)
    return due if due is not None and now < due - COMING_MARGIN and due <= at + 1.0 else None


def _coming_note(step: Step, due: float, now: float) -> None:
    known = _coming.get(step.name)
    if due > now and (known is None or known <= now or due < known):
        _coming[step.name] = due


def cache_forget(step: Step) -> None:
    try:
        cache.delete(f"claimer-kick:{step.name}")
    except Exception:
        logger.warning("could not clear the %s claimer's kick", step.name, exc_info=True)


# A claimer's successor is kicked for work due within this long: longer than a deferral for an add that
# may still be running at the portal (BITRIX_MAX_EXECUTION_TIME + 5 s); later work is the sweeper's.
CLAIMER_HORIZON = timedelta(seconds=120)


def claimer_run(step_name: str, take: Callable[[], int]) -> int:
    """A claimer task's body: `take()` (one claim's work; how much it took, 0 when nothing was due) again
    and again until nothing is due or CLAIMER_BUDGET is spent, then the next claimer kicked for the work
    still to come. Returns the sum of what `take()` took."""
    taken, deadline = 0, time.monotonic() + CLAIMER_BUDGET
    try:
        while time.monotonic() < deadline:
            took = take()
            if not took:
                break
            taken += took
    finally:
        claimer_next_kick(STEPS[step_name])
    return taken


def claimer_next_kick(step: Step, *, horizon: timedelta = CLAIMER_HORIZON) -> None:
    """At the end of a claimer's run: kick the next one for the earliest due work within `horizon`
    (later work is the sweeper's). Kicks sent during the run were absorbed by it; from here on they
    send a claimer of their own, and what is already due is seen by the query below."""
    cache_forget(step)
    now = timezone.now()
    first = (Lead.objects.filter(**{f"{step.state_field}__in": OPEN_STATES, f"{step.due_field}__lte": now + horizon})
             .order_by(step.due_field).values_list(step.due_field, flat=True).first())
    if first is not None:
        claimer_kick(step, countdown=max((first - now).total_seconds(), 0.0))


def _send(step: Step, lead_id: int, *, countdown: float | None = None) -> None:
    if step.claimer:
        claimer_kick(step, countdown=max(countdown or 0.0, step.gather))
        return
    try:
        current_app.send_task(step.task, args=(lead_id,), countdown=countdown)
    except Exception:  # the broker is down or refused: the sweeper sends it once it is back
        logger.warning("could not queue %s step of lead %s; the sweeper will retry", step.name, lead_id, exc_info=True)
        Lead.objects.filter(pk=lead_id).update(**{step.queued_field: None})


def step_claim(*, step_name: str, lead_id: int, early: timedelta = timedelta(0)) -> datetime | None:
    """Take the step if it is due (or due within `early`). Returns the lease end (the fencing
    token), or None if not ours."""
    step = STEPS[step_name]
    now = timezone.now()
    lease_end = now + step.lease
    claimed = _claim_statement(step).run(pk=lead_id, by=now + early, lease_end=lease_end)
    return lease_end if claimed else None


@lru_cache(maxsize=None)  # one per Step: every task of a step sends this statement first
def _claim_statement(step: Step) -> CompiledUpdate:
    return CompiledUpdate(lambda pk, by, lease_end: (Lead.objects.filter(_due(step, by), pk=pk),
                                                     _claim_changes(step, lease_end)),
                          pk=int, by=datetime, lease_end=datetime)


def step_claim_more(*, step_name: str, limit: int, extra: Q | None = None,
                    early: timedelta = timedelta(0)) -> list[tuple[int, datetime]]:
    """Take up to `limit` other leads whose step is due (or due within `early`: leads that were
    deferred a moment ago join this batch rather than wait to go out alone), all under one lease.

    Two statements for the batch: its rows are locked (rows another transaction holds are skipped, not
    waited for; they are due still, for the next claim) and then claimed together. FOR NO KEY UPDATE: a lead
    whose timeline entry another transaction is committing (a foreign-key check's share lock) is not skipped."""
    step = STEPS[step_name]
    now = timezone.now()
    lease_end = now + step.lease
    due = _due(step, now + early) & (extra or Q())
    with transaction.atomic():
        ids = list(Lead.objects.filter(due).order_by(step.due_field).select_for_update(skip_locked=True, no_key=True)
                   .values_list("pk", flat=True)[:limit])
        if ids:  # as read: they are locked (SQLite has no row locks, but runs one writing transaction
            # at a time: leadcaller/config.py opens each IMMEDIATE)
            Lead.objects.filter(pk__in=ids).update(**_claim_changes(step, lease_end))
    return [(lead_id, lease_end) for lead_id in ids]


def _due(step: Step, by: datetime) -> Q:
    return Q(**{f"{step.state_field}__in": OPEN_STATES, f"{step.due_field}__lte": by})


def _claim_changes(step: Step, lease_end: datetime) -> dict[str, object]:
    changes: dict[str, object] = {step.state_field: State.RUNNING, step.due_field: lease_end,
                                  step.tries_field: F(step.tries_field) + 1}
    if step.resumes_scheduled:
        changes["status"] = Case(When(status=Lead.Status.SCHEDULED, then=Value(Lead.Status.IN_PROGRESS)),
                                 default=F("status"))
    return changes


# What a step's handler gets: the lead with its site and partner, read once per run.
_lead_for_step: CompiledRead[Lead] = CompiledRead(
    lambda pk: Lead.objects.select_related("site", "partner").filter(pk=pk), pk=int)


def step_run(*, step_name: str, lead_id: int) -> None:
    """Claim the step, run its handler, record what came of it. Safe to call twice."""
    step = STEPS[step_name]
    lease_end = step_claim(step_name=step_name, lead_id=lead_id)
    if lease_end is None:
        logger.debug("%s step of lead %s is not due; nothing to do", step.name, lead_id)
        return
    lead = _lead_for_step.first(pk=lead_id)
    if lead is None:
        raise Lead.DoesNotExist(f"lead {lead_id} is gone")
    bind_lead(lead.public_id)
    handler: Callable[[Lead], Outcome] = import_string(step.handler)
    try:
        outcome = handler(lead)
    except Exception as exc:  # a bug or an unforeseen failure: retried, then manual handling
        logger.exception("%s step of lead %s failed", step.name, lead_id)
        outcome = Retry(reason=f"{type(exc).__name__}: {exc}")
    step_outcome_apply(step_name=step.name, lead=lead, outcome=outcome, fence=lease_end)


def step_outcome_apply(*, step_name: str, lead: Lead, outcome: Outcome, fence: datetime | None,
                       lead_changes: dict[str, object] | None = None) -> bool:
    """Record `outcome` for a running step. Returns False when the step was no longer ours.

    `fence` is the lease end that the worker's claim wrote; None for a result that arrives from
    outside a worker (a call-result webhook), which may only finish a step that is still running.
    `lead_changes`: more of the lead's columns (plain values), written by the same statement as the result
    and only with it.
    """
    step = STEPS[step_name]
    tries = getattr(lead, step.tries_field)
    if isinstance(outcome, Retry) and tries >= step.max_tries:
        outcome = Manual(reason=f"{outcome.reason} (gave up after {tries} tries)")
    now = timezone.now()
    fields, event_kind, message = _fields_for(step, outcome, tries, now)
    condition = {step.state_field: State.RUNNING, **dict(step.fence_extra),
                 **({step.due_field: fence} if fence is not None else {})}
    written = {**(lead_changes or {}), **fields}
    # No savepoint inside a caller's transaction (a call result's): nothing here is undone on its own.
    with transaction.atomic(savepoint=False):
        if not _lead_updates.run((step, type(outcome), fence is None, tuple(lead_changes or ())),
                                 {"pk": lead.pk, **condition}, written):
            logger.warning("%s step of lead %s was taken over; dropping this result", step.name, lead.pk)
            return False
        for name, value in written.items():
            setattr(lead, name, value)
        if event_kind:  # a deferral is routine, not worth a timeline entry
            timeline_add(LeadEvent(lead=lead, kind=event_kind, step=step.name, message=message[:500], data={}))
        if isinstance(outcome, Later):
            Lead.objects.filter(pk=lead.pk, status=Lead.Status.IN_PROGRESS).update(status=Lead.Status.SCHEDULED)
        elif isinstance(outcome, Retry):
            transaction.on_commit(lambda: metrics.step_retried(step.name))
        for listener in _step_listeners:  # manual handling, the seller's card
            listener(step.name, [(lead, outcome)])
    if isinstance(outcome, (Retry, Defer)):
        _send_when_due(step, lead.pk, fields[step.due_field] - now)
    return True


def _send_when_due(step: Step, lead_id: int, due_in: timedelta) -> None:
    """After commit, the step's task (or its claimer) for work due in `due_in`, when that is soon enough
    for a Celery countdown; later work is the sweeper's."""
    if due_in <= COUNTDOWN_LIMIT:
        transaction.on_commit(lambda: _send(step, lead_id, countdown=due_in.total_seconds()))


# A step's result, recorded: the statement's shape follows from the step, the outcome's kind and the fence.
_lead_updates = CompiledUpdates(Lead)


# Results that end a step: their fields do not depend on the lead, so a batch of them is one UPDATE.
ENDING = (Done, Skipped, Manual)


def step_outcomes_apply(*, step_name: str, results: list[tuple[Lead, Outcome, datetime]]) -> set[int]:
    """Record a claimer's batch of results (lead, outcome, fence). Those that end the step, and deferrals
    for one wait (a batch the rate limit held back, or leads beyond a full batch), take a few statements
    for the whole group (its rows locked, updated, the timeline entries inserted together, one kick of the
    claimer); the rest are recorded one by one. Returns the ids of the leads whose result was recorded;
    the others were no longer ours."""
    step = STEPS[step_name]
    now = timezone.now()
    recorded: set[int] = set()
    groups: dict[tuple[datetime, type, timedelta | None], list[tuple[Lead, Outcome]]] = {}
    for lead, outcome, fence in results:
        if isinstance(outcome, ENDING) or (isinstance(outcome, Defer) and fence is not None):
            groups.setdefault((fence, type(outcome), getattr(outcome, "after", None)), []).append((lead, outcome))
        elif step_outcome_apply(step_name=step_name, lead=lead, outcome=outcome, fence=fence):
            recorded.add(lead.pk)
    with transaction.atomic(savepoint=False):
        for (fence, _kind, after), group in groups.items():
            fields, event_kind, _message = _fields_for(step, group[0][1], 0, now)
            ours = set(rows_locked(Lead.objects.filter(
                pk__in=[lead.pk for lead, _ in group], **{step.state_field: State.RUNNING, step.due_field: fence},
                **dict(step.fence_extra))))
            if len(ours) < len(group):
                logger.warning("%s step of leads %s was taken over; dropping these results", step.name,
                               sorted({lead.pk for lead, _ in group} - ours))
            if not ours:
                continue
            mine = [(lead, outcome) for lead, outcome in group if lead.pk in ours]
            # A deferral gives back the try its claim counted, each lead's own.
            gives_back = fields.pop(step.tries_field, None) is not None
            Lead.objects.filter(pk__in=ours).update(
                **fields, **({step.tries_field: Greatest(F(step.tries_field) - 1, 0)} if gives_back else {}))
            for lead, _outcome in mine:
                for name, value in fields.items():
                    setattr(lead, name, value)
                if gives_back:
                    setattr(lead, step.tries_field, max(getattr(lead, step.tries_field) - 1, 0))
            if event_kind:  # a deferral is routine, not worth a timeline entry
                LeadEvent.objects.bulk_create([
                    LeadEvent(lead=lead, kind=event_kind, step=step.name, data={},
                              message=_fields_for(step, outcome, 0, now)[2][:500]) for lead, outcome in mine])
            for listener in _step_listeners:
                listener(step.name, mine)
            if after is not None:
                _send_when_due(step, mine[0][0].pk, after)
            recorded |= ours
    return recorded


def _fields_for(step: Step, outcome: Outcome, tries: int, now: datetime) -> tuple[dict, str, str]:
    if isinstance(outcome, Done):
        return {step.state_field: State.DONE, step.due_field: None}, LeadEvent.Kind.STEP_DONE, outcome.message
    if isinstance(outcome, Skipped):
        return {step.state_field: State.SKIPPED, step.due_field: None}, LeadEvent.Kind.STEP_SKIPPED, outcome.message
    if isinstance(outcome, Manual):
        return {step.state_field: State.FAILED, step.due_field: None}, LeadEvent.Kind.STEP_FAILED, outcome.reason
    if isinstance(outcome, Wait):
        return {step.due_field: outcome.until, step.tries_field: 0}, LeadEvent.Kind.STEP_STARTED, outcome.message
    if isinstance(outcome, Defer):
        fields = {step.state_field: State.PENDING, step.due_field: now + outcome.after, step.queued_field: now,
                  step.tries_field: max(tries - 1, 0)}
        return fields, "", outcome.reason
    if isinstance(outcome, Later):
        fields = {step.state_field: State.PENDING, step.due_field: outcome.at, step.tries_field: 0,
                  step.queued_field: None}
        return fields, LeadEvent.Kind.STEP_LATER, f"{outcome.reason}; next try at {outcome.at:%Y-%m-%d %H:%M %Z}"
    due = now + (outcome.after if outcome.after is not None else backoff(step, tries))
    fields = {step.state_field: State.PENDING, step.due_field: due, step.queued_field: now}
    return fields, LeadEvent.Kind.STEP_RETRY, f"{outcome.reason}; next try at {due:%Y-%m-%d %H:%M:%S %Z}"


def step_reopen(*, step_name: str, lead_id: int, due: datetime | None = None) -> bool:
    """Make a finished step due again (new work for it) at `due` (now by default), and send it after commit.
    A later `due` lets work that comes in a stream gather for one claim."""
    step = STEPS[step_name]
    now = timezone.now()
    reopened = Lead.objects.filter(pk=lead_id, **{step.state_field: State.DONE}).update(
        **_reopened_fields(step, now, due))
    if reopened:
        transaction.on_commit(lambda: _send(step, lead_id, countdown=_seconds_until(due, now)))
    return bool(reopened)


def step_reopen_changes(step_name: str, now: datetime, due: datetime | None = None) -> dict[str, Case]:
    """step_reopen() as part of a caller's own UPDATE of the lead: the step's columns, changed only where it
    was done. The caller sends the step after commit (lead_dispatch)."""
    step = STEPS[step_name]
    done = Q(**{step.state_field: State.DONE})
    return {name: Case(When(done, then=Value(value)), default=F(name), output_field=Lead._meta.get_field(name))
            for name, value in _reopened_fields(step, now, due).items()}


def step_reopen_values(step_name: str, lead: Lead, now: datetime, due: datetime | None = None) -> dict[str, object]:
    """step_reopen_changes() for a lead whose row the caller holds locked and has not changed since reading
    it: plain values, none unless the step was done."""
    step = STEPS[step_name]
    return _reopened_fields(step, now, due) if getattr(lead, step.state_field) == State.DONE else {}


def _reopened_fields(step: Step, now: datetime, due: datetime | None) -> dict[str, object]:
    return {step.state_field: State.PENDING, step.due_field: due or now, step.queued_field: now, step.tries_field: 0}


def _seconds_until(due: datetime | None, now: datetime) -> float | None:
    return None if due is None else max((due - now).total_seconds(), 0.0)


def dispatch_due(*, limit: int = 500) -> int:
    """Re-send every step that is due and whose message is missing or stale. Returns how many."""
    now = timezone.now()
    sent = 0
    for step in STEPS.values():
        if step.claimer:  # one kick for all of them: for work that waited past the time a claimer takes to
            # come, or whose run died (its lease ended)
            waited = Q(**{f"{step.state_field}__in": OPEN_STATES, f"{step.due_field}__lte": now - CLAIMER_OVERDUE})
            dead = Q(**{step.state_field: State.RUNNING, f"{step.due_field}__lte": now})
            if Lead.objects.filter(waited | dead).exists():
                sent += claimer_kick(step, force=True)
            continue
        # Running and due: the lease ran out, so the task that claimed it died and its message is spent;
        # sent again at once, unless the sweeper already did since the lease ended.
        stale = (Q(**{f"{step.queued_field}__isnull": True}) | Q(**{f"{step.queued_field}__lte": now - step.requeue_after})
                 | Q(**{step.state_field: State.RUNNING, f"{step.queued_field}__lt": F(step.due_field)}))
        due = list(
            Lead.objects.filter(stale, **{f"{step.state_field}__in": OPEN_STATES, f"{step.due_field}__lte": now})
            .order_by(step.due_field)
            .values_list("pk", "public_id")[:limit]
        )
        for lead_id, public_id in due:
            # Mark before sending: two sweepers (or a beat restart) never send the same step twice.
            if Lead.objects.filter(stale, pk=lead_id).update(**{step.queued_field: now}):
                with lead_context(public_id):  # the line, and the task it sends, carry the lead's id
                    logger.info("sweeper sent the due %s step", step.name)
                    _send(step, lead_id)
                sent += 1
    return sent
