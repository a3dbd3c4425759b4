"""make run's simulated VoxImplant account is one voximplant_setup would leave: the admin's VoxImplant
check passes against it, so the demo shows the buttons working."""

from __future__ import annotations

import pytest

from demo.launcher import write_voximplant_key
from demo.simulators import Simulators
from leads import integration_checks
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def test_the_admins_voximplant_check_passes_against_the_demo_simulator(tmp_path, settings, django_user_model):
    credentials = tmp_path / "voximplant-credentials.json"
    write_voximplant_key(credentials)
    simulators = Simulators({"state_port": 0, "voximplant": {
        "port": 0, "credentials": str(credentials), "rule_id": 1, "caller_id": "74950000000"}})
    simulators.start()
    try:
        settings.VOXIMPLANT_API_URL, settings.VOXIMPLANT_CREDENTIALS = simulators.voximplant.url, str(credentials)
        settings.VOXIMPLANT_RULE_ID, settings.VOXIMPLANT_CALLER_ID = "1", "74950000000"
        SiteFactory(domain="shop.example")
        check = integration_checks.integration_check_voximplant(user=django_user_model.objects.create(username="a"))
    finally:
        simulators.stop()

    assert check.ok, check.result
