"""Reads for the staff: which VoxEngine scenario is answering, against the one this server expects."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from telephony.models import CallAttempt
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
