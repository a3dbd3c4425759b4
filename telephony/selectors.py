"""Reads for the staff: which VoxEngine scenario is answering, against the one this server expects;
a lead's local time and why its call waits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from leads.models import Lead
from telephony.call_window import lead_local_time, wait_reason
from telephony.models import CallAttempt
from telephony.policy import call_settings_for
from telephony.scenario import scenario_version


@dataclass(frozen=True)
class ScenarioStatus:
    expected: int  # SCENARIO_VERSION of this checkout's leadcaller.js
    last_seen: int | None  # the version of the latest result; None: no result yet, or one without a version
    seen: bool  # any result arrived at all
    warning: str  # empty when nothing is wrong, or when no result tells yet

    def as_dict(self) -> dict:
        return {"expected": self.expected, "last_seen": self.last_seen, "warning": self.warning}


def scenario_status() -> ScenarioStatus:
    """Compares the version the latest result came with to the expected one: an old upload shows here."""
    expected = scenario_version()
    # The newest finished attempt, by the (status, created_at) index: /healthz asks on every probe.
    latest = (CallAttempt.objects.filter(status=CallAttempt.Status.FINISHED)
              .order_by("-created_at", "-pk").values("scenario_version").first())
    if latest is None:
        return ScenarioStatus(expected, None, False, "")
    seen = latest["scenario_version"]
    if seen is None:
        warning = _("The VoxEngine scenario in VoxImplant sends no version: it is older than version %(expected)d. "
                    "Upload telephony/voxengine/leadcaller.js again.") % {"expected": expected}
    elif seen < expected:
        warning = _("The VoxEngine scenario in VoxImplant is version %(seen)d, this server expects %(expected)d. "
                    "Upload telephony/voxengine/leadcaller.js again.") % {"seen": seen, "expected": expected}
    elif seen > expected:
        warning = _("The VoxEngine scenario in VoxImplant is version %(seen)d, newer than the %(expected)d this "
                    "server expects. Deploy the matching server.") % {"seen": seen, "expected": expected}
    else:
        warning = ""
    return ScenarioStatus(expected, seen, True, warning)


def lead_clock(lead: Lead, now: datetime) -> str:
    """The lead's local time as the calls read it, with the zone and where it comes from."""
    return lead_local_time(call_settings_for(lead.site), now, phone=lead.phone)


def lead_call_wait(lead: Lead, now: datetime) -> str | None:
    """Why the lead's next call may not be made now (a rule of the calling window), or None: no call is
    owed, or the call only waits for its due time (the spacing between calls, its turn after a window opened)."""
    if lead.call_state != Lead.StepState.PENDING or lead.scheduled_at is None or lead.scheduled_at <= now:
        return None
    return wait_reason(call_settings_for(lead.site), now, phone=lead.phone)
