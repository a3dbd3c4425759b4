"""A lead's calls by its site's cadence: when the next one is due, and the whole plan the admin shows.

The cadence gives the wish (telephony/cadence.py); the call window (telephony/call_window.py) moves
every wish into the site's hours and the lead's local window. Day-based steps ("next day 10:00") are
read on the lead's clock: its zone from the number, else the site's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from leads.models import Lead
from telephony.call_window import next_allowed, zones_in_force
from telephony.policy import DIALLED, CallSettings, call_settings_for

NO_ANSWER = "no_answer"


def lead_zone(cfg: CallSettings, moment: datetime, *, phone: str) -> ZoneInfo:
    """The clock a day-based step is read on: the lead's first zone in force (the site's when unknown)."""
    return zones_in_force(cfg, moment, phone=phone).zones[0]


def calls_counted(lead: Lead) -> int:
    """Slots of the cadence used: calls that reached the provider, and planned calls a person skipped."""
    return lead.call_attempts.filter(status__in=DIALLED).count() + lead.call_skips


def next_call_at(lead: Lead, cfg: CallSettings, *, outcome: str, after: datetime,
                 used: int | None = None) -> tuple[datetime | None, int]:
    """(when the next call may be made, the cadence's number of calls) after a call that ended at `after`
    with `outcome`. None: the cadence is over, or the window has no room in three weeks."""
    cadence = cfg.cadences.get(outcome) or cfg.cadences[NO_ANSWER]
    # At least one: this runs after a call (a call routed before its attempt row counted is still a call).
    used = max(1, calls_counted(lead) if used is None else used)
    wish = cadence.next_due(calls_made=used, after=after,
                            zone=lead_zone(cfg, after, phone=lead.phone))
    if wish is None:
        return None, cadence.calls
    return next_allowed(cfg, wish, phone=lead.phone), cadence.calls


@dataclass(frozen=True)
class PlannedCall:
    number: int  # the call's place in the cadence (1-based)
    state: str  # "done", "skipped", "next", "planned"
    at: datetime | None  # done: when it was made; next/planned: when due (planned: if every call goes unanswered)
    outcome: str = ""  # done: the call's outcome label


def lead_call_plan(lead: Lead, now: datetime) -> list[PlannedCall]:
    """Done, next and remaining calls. The remaining ones are projected as if every call goes unanswered
    (the no-answer cadence); each one after the next is counted from the one before it."""
    cfg = call_settings_for(lead.site)
    attempts = list(lead.call_attempts.filter(status__in=DIALLED).order_by("number"))
    plan = [PlannedCall(i, "done", a.created_at, a.get_outcome_display() if a.outcome else a.get_status_display())
            for i, a in enumerate(attempts, start=1)]
    plan += [PlannedCall(len(plan) + i, "skipped", None) for i in range(1, lead.call_skips + 1)]
    used = len(plan)
    cadence = cfg.cadences[NO_ANSWER]
    if not _cadence_goes_on(lead) or used >= cadence.calls:
        return plan
    at = lead.scheduled_at if lead.call_state == Lead.StepState.PENDING and lead.scheduled_at else now
    plan.append(PlannedCall(used + 1, "next", at))
    for number in range(used + 2, cadence.calls + 1):
        at, _calls = next_call_at(lead, cfg, outcome=NO_ANSWER, after=at, used=number - 1)
        if at is None:
            break
        plan.append(PlannedCall(number, "planned", at))
    return plan


def _cadence_goes_on(lead: Lead) -> bool:
    """A call is owed: the lead is open and its call step is waiting (not a call in progress, not ended)."""
    return lead.status in (Lead.Status.IN_PROGRESS, Lead.Status.SCHEDULED) and lead.call_state == Lead.StepState.PENDING

