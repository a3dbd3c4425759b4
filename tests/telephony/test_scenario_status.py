"""scenario_status(): the latest result's scenario version against the one this server expects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from telephony.models import CallAttempt
from telephony.scenario import scenario_version
from telephony.selectors import scenario_status
from tests.factories import CallAttemptFactory

pytestmark = pytest.mark.django_db


def finished(version: int | None, minutes_ago: int = 0, status: str = CallAttempt.Status.FINISHED) -> CallAttempt:
    return CallAttemptFactory(
        phone="+79120000001", status=status, outcome="busy", scenario_version=version,
        finished_at=timezone.now() - timedelta(minutes=minutes_ago))


def test_before_any_result_nothing_is_known_and_nothing_is_wrong():
    finished(1, status=CallAttempt.Status.STARTED)  # no result yet

    status = scenario_status()
    assert (status.expected, status.last_seen, status.seen, status.warning) == (scenario_version(), None, False, "")


def test_the_current_scenario_gives_no_warning():
    finished(scenario_version())

    status = scenario_status()
    assert (status.last_seen, status.seen, status.warning) == (scenario_version(), True, "")


def test_an_older_scenario_is_named_with_both_versions():
    finished(scenario_version() - 1)

    warning = scenario_status().warning
    assert f"version {scenario_version() - 1}" in warning and f"expects {scenario_version()}" in warning


def test_a_scenario_that_sends_no_version_is_older_than_the_handshake():
    finished(None)

    status = scenario_status()
    assert status.last_seen is None and status.seen
    assert "sends no version" in status.warning


def test_a_newer_scenario_than_the_server_is_named_too():
    finished(scenario_version() + 1)

    assert "newer" in scenario_status().warning


def test_only_the_latest_result_counts():
    finished(None, minutes_ago=30)
    finished(scenario_version(), minutes_ago=1)

    assert scenario_status().warning == ""
