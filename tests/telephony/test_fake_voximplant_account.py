"""Self-tests of the fake's account set-up methods (applications, scenarios, rules, numbers): the same
names, required parameters, list shapes and error codes as the official clients document, never more
lenient. No Django here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import requests

from demo.fakes.voximplant import FakeVoximplant
from tests.telephony.test_fake_voximplant import api, bearer

TIMEOUT = 2.0


@pytest.fixture
def vox() -> Iterator[FakeVoximplant]:
    with FakeVoximplant(rule_ids=()) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def ok(http: requests.Session, vox: FakeVoximplant, cmd: str, **params: Any) -> dict[str, Any]:
    body = api(http, vox, cmd, **params).json()
    assert "error" not in body, body
    return body


def code(http: requests.Session, vox: FakeVoximplant, cmd: str, **params: Any) -> int:
    return api(http, vox, cmd, **params).json()["error"]["code"]


@pytest.fixture
def app(http, vox) -> dict[str, Any]:
    return ok(http, vox, "AddApplication", application_name="shop")


@pytest.fixture
def scenario(http, vox, app) -> int:
    return ok(http, vox, "AddScenario", scenario_name="call", scenario_script="var a = 1;",
              application_id=app["application_id"])["scenario_id"]


def test_add_application_answers_the_full_name_and_refuses_bad_or_taken_names(http, vox):
    body = ok(http, vox, "AddApplication", application_name="shop")

    assert body["result"] == 1 and body["application_name"] == "shop.fake.voximplant.com"
    assert code(http, vox, "AddApplication", application_name="shop") == 129
    assert code(http, vox, "AddApplication", application_name="Shop_1") == 107
    assert code(http, vox, "AddApplication") == 101


def test_get_applications_filters_by_a_part_of_the_name_and_pages(http, vox):
    for name in ("shop", "shop-old", "other"):
        ok(http, vox, "AddApplication", application_name=name)

    body = ok(http, vox, "GetApplications", application_name="shop", count=1, offset=1)

    assert (body["total_count"], body["count"]) == (2, 1)
    assert set(body["result"][0]) == {"application_id", "application_name", "modified", "secure_record_storage"}


def test_add_scenario_checks_name_length_script_size_and_uniqueness(http, vox, app, scenario):
    assert code(http, vox, "AddScenario", scenario_name="x" * 30) == 168
    assert code(http, vox, "AddScenario", scenario_name="big", scenario_script="x" * 128 * 1024) == 130
    assert code(http, vox, "AddScenario", scenario_name="call") == 133
    again = ok(http, vox, "AddScenario", scenario_name="call", scenario_script="var b;", rewrite="true")
    assert again["scenario_id"] == scenario and vox.account.scenarios[scenario].script == "var b;"


def test_get_scenarios_gives_the_script_only_for_one_scenario_id(http, vox, app, scenario):
    assert code(http, vox, "GetScenarios", with_script="true") == 101
    listed = ok(http, vox, "GetScenarios", scenario_name="CAL", application_id=app["application_id"])["result"]
    one = ok(http, vox, "GetScenarios", scenario_id=scenario, with_script="true")["result"]

    assert [s["scenario_name"] for s in listed] == ["call"] and "scenario_script" not in listed[0]
    assert one[0]["scenario_script"] == "var a = 1;"


def test_set_scenario_info_changes_the_script_of_a_known_scenario_only(http, vox, scenario):
    ok(http, vox, "SetScenarioInfo", scenario_id=scenario, scenario_script="var c;")

    assert vox.account.scenarios[scenario].script == "var c;"
    assert code(http, vox, "SetScenarioInfo", scenario_id=999, scenario_script="x") == 132
    assert code(http, vox, "SetScenarioInfo", scenario_id=scenario, required_scenario_name="call") == 101


def test_add_rule_needs_the_application_a_valid_pattern_and_a_scenario(http, vox, app, scenario):
    base = {"application_id": app["application_id"], "rule_name": "r", "rule_pattern": "x"}

    assert code(http, vox, "AddRule", **{**base, "scenario_id": scenario, "application_id": 999}) == 116
    assert code(http, vox, "AddRule", **base) == 101  # no scenario
    assert code(http, vox, "AddRule", **{**base, "scenario_id": scenario, "rule_pattern": "(("}) == 148
    rule = ok(http, vox, "AddRule", **base, scenario_id=scenario)["rule_id"]
    assert code(http, vox, "AddRule", **base, scenario_id=scenario) == 175
    assert vox.account.rules[rule].scenario_ids == [scenario]


def test_a_scenario_of_another_application_cannot_run_in_a_rule(http, vox, app, scenario):
    other = ok(http, vox, "AddApplication", application_name="other")

    assert code(http, vox, "AddRule", application_id=other["application_id"], rule_name="r", rule_pattern="x",
                scenario_id=scenario) == 101


def test_get_rules_requires_the_application_and_lists_bound_scenarios(http, vox, app, scenario):
    rule = ok(http, vox, "AddRule", application_id=app["application_id"], rule_name="outbound", rule_pattern="x",
              scenario_id=scenario)["rule_id"]

    assert code(http, vox, "GetRules", rule_name="out") == 101
    (found,) = ok(http, vox, "GetRules", application_id=app["application_id"], rule_name="out",
                  with_scenarios="true")["result"]
    assert found["rule_id"] == rule and [s["scenario_id"] for s in found["scenarios"]] == [scenario]


def test_bind_scenario_binds_and_unbinds_within_the_application(http, vox, app, scenario):
    second = ok(http, vox, "AddScenario", scenario_name="two", application_id=app["application_id"])["scenario_id"]
    rule = ok(http, vox, "AddRule", application_id=app["application_id"], rule_name="r", rule_pattern="x",
              scenario_id=scenario)["rule_id"]

    ok(http, vox, "BindScenario", scenario_id=second, rule_id=rule, application_id=app["application_id"])
    assert vox.account.rules[rule].scenario_ids == [scenario, second]
    ok(http, vox, "BindScenario", scenario_id=f"{scenario}", rule_id=rule, application_id=app["application_id"],
       bind="False")
    assert vox.account.rules[rule].scenario_ids == [second]
    assert code(http, vox, "BindScenario", scenario_id=second, rule_id=rule) == 101  # no application
    assert code(http, vox, "BindScenario", scenario_id=second, rule_id=rule, application_id=app["application_id"],
                bind="maybe") == 101


def test_start_scenarios_runs_a_rule_made_through_the_api_and_refuses_an_unknown_one(http, vox, app, scenario):
    rule = ok(http, vox, "AddRule", application_id=app["application_id"], rule_name="r", rule_pattern="x",
              scenario_id=scenario)["rule_id"]

    started = ok(http, vox, "StartScenarios", rule_id=rule)
    assert vox.session(started["call_session_history_id"]).application_name == "shop.fake.voximplant.com"
    assert api(http, vox, "StartScenarios", rule_id=rule + 1).json() == {
        "error": {"msg": "Invalid arguments", "code": 101}}


def test_phone_numbers_and_caller_ids_are_listed_as_digits_with_their_state(http, vox):
    vox.account.rent_number("74951234567")
    vox.account.rent_number("74950000001", sandbox=True)
    vox.account.add_caller_id("79991112233", verified_until=date.today() + timedelta(days=9))

    real = ok(http, vox, "GetPhoneNumbers", sandbox="false")["result"]
    every = ok(http, vox, "GetPhoneNumbers")["result"]
    (caller,) = ok(http, vox, "GetCallerIDs", callerid_number="79991112233")["result"]

    assert [p["phone_number"] for p in real] == ["74951234567"] and len(every) == 2
    assert {"phone_id", "deactivated", "canceled", "can_be_used"} <= set(real[0]) and "_sandbox" not in real[0]
    assert caller["active"] is True and caller["verified_until"] == (date.today() + timedelta(days=9)).isoformat()
    assert code(http, vox, "GetPhoneNumbers", sandbox="maybe") == 101


def test_set_up_methods_need_authorization_like_the_rest(http, vox):
    answer = http.post(vox.url, data={"cmd": "AddApplication", "application_name": "x1"},
                       headers=bearer(vox, kid="someone-else"), timeout=TIMEOUT).json()

    assert answer == {"error": {"msg": "Authorization failed", "code": 100}} and not vox.account.applications
