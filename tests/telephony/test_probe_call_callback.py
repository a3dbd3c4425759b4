"""The test call's own callback: the scenario's settings and result, with tokens that never open a lead's
call attempt (nor the reverse), and only the first result counting."""

from __future__ import annotations

import pytest

from telephony.models import ProbeCall
from telephony.tokens import attempt_token, probe_call_token
from tests.factories import CallAttemptFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/telephony/voximplant/probe-call/"
LEAD_URL = "/api/v1/telephony/voximplant/callback/"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.VOXIMPLANT_CALLBACK_SECRET = "probe-secret"


@pytest.fixture
def probe():
    return ProbeCall.objects.create(phone="+79120000000", caller_id="74951234567", status="started", session_id=5)


def result(call_id: int, token: str, **extra) -> dict:
    return {"attempt_id": call_id, "token": token, "result": "busy", "duration": 0, "detail": "486 Busy Here",
            **extra}


def test_settings_name_the_number_the_caller_id_and_the_version_we_expect(api, probe):
    from telephony.scenario import scenario_version

    body = api.get(URL, {"attempt_id": probe.pk, "token": probe_call_token(probe.pk)}).json()

    assert (body["phone"], body["caller_id"], body["scenario_version"]) == ("+79120000000", "74951234567",
                                                                             scenario_version())


def test_the_first_result_counts_and_a_repeat_changes_nothing(api, probe):
    first = api.post(URL, result(probe.pk, probe_call_token(probe.pk), scenario_version=1), format="json")
    again = api.post(URL, result(probe.pk, probe_call_token(probe.pk), result="human"), format="json")

    probe.refresh_from_db()
    assert (first.json(), again.json()) == ({"status": "applied"}, {"status": "repeat"})
    assert (probe.status, probe.outcome, probe.scenario_version) == ("finished", "busy", 1)


def test_a_lead_attempts_token_never_opens_a_probe_call_nor_the_reverse(api, probe):
    # The same id in both tables: only the kind of token tells them apart.
    attempt = CallAttemptFactory(pk=probe.pk, phone="+79120000001",
                                 status="started")

    assert api.post(URL, result(probe.pk, attempt_token(probe.pk)), format="json").status_code == 403
    assert api.get(URL, {"attempt_id": probe.pk, "token": attempt_token(probe.pk)}).status_code == 403
    assert api.post(LEAD_URL, result(attempt.pk, probe_call_token(attempt.pk)), format="json").status_code == 403
    probe.refresh_from_db()
    attempt.refresh_from_db()
    assert probe.status == "started" and attempt.status == "started"


@pytest.mark.parametrize("body", [
    {"attempt_id": 999999, "token": "x", "result": "busy"},
    {"attempt_id": "one", "token": "x", "result": "busy"},
    {"attempt_id": 1, "token": "x", "result": "exploded"},
    ["not", "an", "object"],
])
def test_bad_results_are_refused_with_a_4xx(api, probe, body):
    assert api.post(URL, body, format="json").status_code in (400, 403)
    probe.refresh_from_db()
    assert probe.status == "started"
