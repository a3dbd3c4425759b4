"""`manage.py voximplant_setup` against the fake Management API: a fresh account, a second run, drift,
bad credentials, and caller IDs the account may or may not use."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from demo.fakes.voximplant import FakeVoximplant
from telephony.scenario import scenario_source, scenario_version
from telephony.voximplant import client_from_settings
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
RENTED = "74951234567"
CHANGES = {"AddApplication", "SetApplicationInfo", "AddScenario", "SetScenarioInfo", "AddRule", "SetRuleInfo",
           "BindScenario"}


@pytest.fixture
def fresh(settings, tmp_path):
    """A new account: no application, scenario or rule; one rented number."""
    with FakeVoximplant(rule_ids=()) as fake:
        fake.account.rent_number(RENTED)
        settings.VOXIMPLANT_API_URL = fake.url
        settings.VOXIMPLANT_CREDENTIALS = str(fake.write_credentials(tmp_path / "vox.json"))
        settings.VOXIMPLANT_RULE_ID, settings.VOXIMPLANT_CALLER_ID = "", RENTED
        settings.VOXIMPLANT_CALLBACK_SECRET = "secret"
        yield fake


def setup_run(**options) -> str:
    out = StringIO()
    call_command("voximplant_setup", stdout=out, **options)
    return out.getvalue()


def failing_run(**options) -> tuple[str, str]:
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("voximplant_setup", stdout=out, **options)
    return out.getvalue(), str(refused.value)


def env_lines(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if line.startswith("VOXIMPLANT_"))


def changes(fake: FakeVoximplant, since: int = 0) -> list[str]:
    return [r.cmd for r in fake.requests[since:] if r.cmd in CHANGES]


def test_a_fresh_account_gets_an_application_our_scenario_and_a_rule_running_only_it(fresh, settings):
    output = setup_run()

    account = fresh.account
    (app,) = account.applications.values()
    (scenario,) = account.scenarios.values()
    (rule,) = account.rules.values()
    assert app.name == "leadcaller.fake.voximplant.com"
    assert (scenario.name, scenario.script, scenario.application_id) == ("leadcaller", scenario_source(), app.id)
    assert (rule.name, rule.application_id, rule.scenario_ids) == ("leadcaller", app.id, [scenario.id])
    assert output.count(": created") == 3 and f"version {scenario_version()} uploaded" in output
    assert env_lines(output) == {"VOXIMPLANT_RULE_ID": str(rule.id), "VOXIMPLANT_CALLER_ID": RENTED}

    settings.VOXIMPLANT_RULE_ID = str(rule.id)  # the rule it printed really starts our scenario
    started = client_from_settings().start_scenarios(rule_id=settings.VOXIMPLANT_RULE_ID, custom_data="{}")
    assert fresh.session(started.session_id).rule_id == rule.id


def test_a_second_run_changes_nothing_and_says_so(fresh, settings):
    settings.VOXIMPLANT_RULE_ID = env_lines(setup_run())["VOXIMPLANT_RULE_ID"]
    before = len(fresh.requests)

    output = setup_run()

    assert changes(fresh, before) == []
    assert "Nothing to change" in output and ": created" not in output and ": updated" not in output


def test_names_are_matched_exactly_not_as_the_api_filters_parts_of_them(fresh):
    fresh.account.add_application({"application_name": "leadcaller-old"})

    setup_run()

    assert sorted(a.name.split(".")[0] for a in fresh.account.applications.values()) == ["leadcaller",
                                                                                         "leadcaller-old"]


def test_check_on_a_fresh_account_reports_what_is_missing_and_creates_nothing(fresh):
    output, error = failing_run(check=True)

    assert changes(fresh) == [] and not fresh.account.applications
    assert "application leadcaller: missing" in output and "rule leadcaller: missing" in output
    assert "missing" in error


def test_check_on_drift_exits_non_zero_with_the_difference_and_changes_nothing(fresh, settings):
    settings.VOXIMPLANT_RULE_ID = env_lines(setup_run())["VOXIMPLANT_RULE_ID"]
    (scenario,) = fresh.account.scenarios.values()
    scenario.script = scenario_source().replace(f"SCENARIO_VERSION = {scenario_version()};", "SCENARIO_VERSION = 0;")
    before = len(fresh.requests)

    output, error = failing_run(check=True)

    assert f"uploaded version 0, this checkout has version {scenario_version()}" in output
    assert "scenario leadcaller: differs" in error
    assert changes(fresh, before) == [] and "SCENARIO_VERSION = 0;" in scenario.script


def test_a_run_brings_a_changed_scenario_and_rule_back_to_this_checkout(fresh, settings):
    settings.VOXIMPLANT_RULE_ID = env_lines(setup_run())["VOXIMPLANT_RULE_ID"]
    account = fresh.account
    (scenario,) = account.scenarios.values()
    (rule,) = account.rules.values()
    scenario.script = "// edited by hand in the control panel"
    account.add_scenario({"scenario_name": "other", "scenario_script": "", "application_id": str(rule.application_id),
                          "rule_id": str(rule.id)})
    rule.pattern = ".*"

    output = setup_run()

    assert scenario.script == scenario_source() and rule.scenario_ids == [scenario.id]
    assert rule.pattern == "leadcaller-start-scenarios-only"
    assert "scenario leadcaller: updated" in output and "rule leadcaller: updated" in output
    assert "it runs leadcaller, other, not only leadcaller" in output


def test_a_rule_id_other_than_the_environment_names_is_a_difference_to_set(fresh, settings):
    settings.VOXIMPLANT_RULE_ID = "1"

    output = setup_run()
    rule_id = env_lines(output)["VOXIMPLANT_RULE_ID"]

    assert f"environment VOXIMPLANT_RULE_ID: differs (is '1' here; set it to {rule_id})" in output
    _, error = failing_run(check=True)
    assert "environment VOXIMPLANT_RULE_ID: differs" in error


def test_bad_credentials_are_a_clear_error(fresh, settings, tmp_path):
    with FakeVoximplant(account_id=fresh.account_id) as stranger:  # same account id, another key
        settings.VOXIMPLANT_CREDENTIALS = str(stranger.write_credentials(tmp_path / "other.json"))

    _, error = failing_run()

    assert "Authorization failed (code 100)" in error and "credentials" in error
    assert changes(fresh) == []


def test_no_credentials_name_the_variables_to_set(fresh, settings):
    settings.VOXIMPLANT_CREDENTIALS = ""

    _, error = failing_run()

    assert "VOXIMPLANT_CREDENTIALS" in error and "VOXIMPLANT_API_KEY" in error


def test_legacy_account_id_and_api_key_work_too(fresh, settings):
    settings.VOXIMPLANT_CREDENTIALS = ""
    settings.VOXIMPLANT_ACCOUNT_ID, settings.VOXIMPLANT_API_KEY = str(fresh.account_id), fresh.api_key

    assert ": created" in setup_run()


@pytest.mark.parametrize(("prepare", "state"), [
    pytest.param(lambda a: None, "refused", id="unknown-number"),
    pytest.param(lambda a: a.rent_number("74957654321", sandbox=True), "refused", id="test-number"),
    pytest.param(lambda a: a.rent_number("74957654321", deactivated=True), "refused", id="frozen-number"),
    pytest.param(lambda a: a.add_caller_id("74957654321"), "refused", id="caller-id-not-verified"),
    pytest.param(lambda a: a.add_caller_id("74957654321", verified_until=date.today() - timedelta(days=1)),
                 "refused", id="caller-id-expired"),
    pytest.param(lambda a: a.add_caller_id("74957654321", verified_until=date.today() + timedelta(days=30)),
                 "ok", id="verified-caller-id"),
    pytest.param(lambda a: a.rent_number("74957654321"), "ok", id="rented-number"),
])
def test_a_caller_id_must_be_rented_or_verified_by_the_account(fresh, prepare, state):
    prepare(fresh.account)

    if state == "ok":
        output = setup_run(caller_id="+7 (495) 765-43-21")
        assert env_lines(output)["VOXIMPLANT_CALLER_ID"] == "74957654321"
    else:
        output, error = failing_run(caller_id="+7 (495) 765-43-21")
        assert "caller ID 74957654321: refused" in error and "VOXIMPLANT_CALLER_ID" not in env_lines(output)
    assert f"caller ID 74957654321: {state}" in output


def test_a_caller_id_that_is_no_phone_number_is_refused(fresh):
    output, error = failing_run(caller_id="call-centre")

    assert "caller ID call-centre: refused" in error


def test_the_sites_own_caller_ids_are_checked_too(fresh):
    SiteFactory(domain="a.example", caller_id="74950001122")

    output, error = failing_run()

    assert f"caller ID {RENTED}: ok" in output and "caller ID 74950001122: refused" in error
