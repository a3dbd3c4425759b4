"""All the way: a form post over HTTP, a real worker dials the fake VoxImplant, the simulated scenario
fetches its settings and posts its result to our callback, and the lead is routed."""

from __future__ import annotations

import pytest
import requests

from leads.models import Lead
from tests.conftest import wait_for
from tests.factories import SiteFactory
from demo.fakes.voximplant import FakeVoximplant, always


@pytest.fixture
def calling_stack(live_server, celery_worker, settings, tmp_path):
    def start(policy):
        vox = FakeVoximplant(simulate=policy, fetch_settings=True, scenario_delay=0.3).start()
        env = {
            "VOXIMPLANT_API_URL": vox.url,
            "VOXIMPLANT_CREDENTIALS": str(vox.write_credentials(tmp_path / "vox.json")),
            "VOXIMPLANT_RULE_ID": "1",
            "VOXIMPLANT_CALLER_ID": "74950000000",
            "VOXIMPLANT_CALLBACK_SECRET": "e2e-secret",
            "PUBLIC_BASE_URL": live_server.url,
            "CALLING_HOURS": "mon-sun 00:00-24:00",
            "LEAD_LOCAL_HOURS": "00:00-24:00",
            "SKIP_HOLIDAYS": "false",
        }
        settings.VOXIMPLANT_CALLBACK_SECRET = env["VOXIMPLANT_CALLBACK_SECRET"]  # the live server checks tokens
        proc, log = celery_worker(**env)
        stack.append(vox)
        return vox, log

    stack: list[FakeVoximplant] = []
    yield start
    for vox in stack:
        vox.stop()


@pytest.mark.parametrize(("result", "status"), [("human", Lead.Status.REACHED), ("busy", Lead.Status.SCHEDULED),
                                                ("opted_out", Lead.Status.OPTED_OUT)])
def test_a_lead_is_called_and_its_result_routed(calling_stack, live_server, result, status):
    vox, log = calling_stack(always(result, duration=7))
    SiteFactory(domain="shop.example")

    response = requests.post(f"{live_server.url}/api/v1/leads/", json={"phone": "+7 912 345-67-89"},
                             headers={"Origin": "https://shop.example"}, timeout=10)
    assert response.status_code == 201
    lead_id = response.json()["id"]

    routed = wait_for(lambda: Lead.objects.get(public_id=lead_id).status == status, timeout=60)
    assert routed, log.read_text()[-3000:]
    # The lead is routed before our answer reaches the scenario (the fake notes the delivery then).
    assert wait_for(lambda: len(vox.deliveries) >= 2, timeout=10)
    assert [(d.method, d.status) for d in vox.deliveries] == [("GET", 200), ("POST", 200)]
    attempt = Lead.objects.get(public_id=lead_id).call_attempts.get()
    assert (attempt.outcome, attempt.duration, attempt.session_id) == (result, 7, vox.sessions[0].id)
