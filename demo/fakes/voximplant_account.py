"""One VoxImplant account as the fake Management API keeps it: applications, scenarios, routing rules,
rented phone numbers and verified caller IDs, and the methods that read and change them.

Written from the vendor's reference, not from Leadcaller's code. Names, required parameters and list
shapes: the official clients (`voximplant/apiclient-nodejs` src/Interfaces.ts and src/Structures.ts,
`voximplant/apiclient-python` src/voximplant/apiclient/client.py) and the reference pages
voximplant.com/docs/references/httpapi/{managing_applications,scenarios,rules,callerids,phonenumbers}.
Error codes and texts: apiclient-nodejs src/Enums.ts (APIErrorCode). The reference rarely says which
code a given mistake gets; where the code here is the closest documented one, the comment says
"code unconfirmed". Every method answers `{"error": {"msg", "code"}}` through ApiError.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from demo.fakes.voximplant_numbers import AccountNumbers
from demo.fakes.voximplant_params import ApiError, bool_param, int_param, invalid, list_param, now, one_of, page

SCRIPT_LIMIT = 128 * 1024  # "The length must be less than 128 KB" (AddScenarioRequest.scenarioScript)
PATTERN_LIMIT = 64 * 1024  # "The length must be less than 64 KB" (AddRuleRequest.rulePattern)
APPLICATION_NAME = re.compile(r"[a-z][a-z0-9-]{1,64}")  # AddApplicationRequest.applicationName


@dataclass
class Application:
    id: int
    name: str  # the full name, <short>.<account>.voximplant.com
    secure_record_storage: bool = False
    modified: str = ""


@dataclass
class Scenario:
    id: int
    name: str
    script: str
    application_id: int | None  # None: the account's Shared folder
    modified: str = ""


@dataclass
class Rule:
    id: int
    application_id: int
    name: str
    pattern: str
    scenario_ids: list[int] = field(default_factory=list)  # bound scenarios, in their order
    pattern_exclude: str = ""
    video_conference: bool = False
    modified: str = ""


class Account(AccountNumbers):
    """The configuration of one account. Not thread-safe: the fake calls it under its own lock."""

    def __init__(self, *, account_id: int, name: str):
        super().__init__()
        self.id, self.name = account_id, name
        self.applications: dict[int, Application] = {}
        self.scenarios: dict[int, Scenario] = {}
        self.rules: dict[int, Rule] = {}
        self._app_ids, self._scenario_ids = itertools.count(10001), itertools.count(50001)
        self._rule_ids = itertools.count(100001)

    # --- test set-up -------------------------------------------------------------------------------------
    def seed_rule(self, rule_id: int, *, application_name: str) -> Rule:
        """A rule made by hand in the control panel (with an application and a scenario if needed)."""
        app = next((a for a in self.applications.values() if a.name == application_name), None)
        if app is None:
            app = self._add_application(application_name)
        scenario = next((s for s in self.scenarios.values() if s.name == "seeded-scenario"), None)
        if scenario is None:
            scenario = Scenario(next(self._scenario_ids), "seeded-scenario", "", app.id, now())
            self.scenarios[scenario.id] = scenario
        rule = Rule(rule_id, app.id, f"rule-{rule_id}", ".*", [scenario.id], modified=now())
        self.rules[rule_id] = rule
        return rule

    # --- applications --------------------------------------------------------------------------------------
    def _add_application(self, full_name: str) -> Application:
        app = Application(next(self._app_ids), full_name, modified=now())
        self.applications[app.id] = app
        return app

    def _application(self, params: Mapping[str, str], *, required: bool = True,
                     id_name: str = "application_id", name_name: str = "application_name") -> Application | None:
        given = one_of(params, id_name, name_name, required=required)
        if given == id_name:
            app = self.applications.get(int_param(params, id_name))
            if app is None:
                raise ApiError(116, "The 'application_id' parameter is invalid")
            return app
        if given == name_name:  # the full name; code unconfirmed for an unknown one
            app = next((a for a in self.applications.values() if a.name == params[name_name]), None)
            if app is None:
                raise ApiError(107, "Invalid application name")
            return app
        return None

    def _short_name(self, params: Mapping[str, str], name: str) -> str:
        short = params.get(name) or ""
        if not APPLICATION_NAME.fullmatch(short):
            raise ApiError(107, "Invalid application name")
        full = f"{short}.{self.name}.voximplant.com"  # docs: AddApplication answers the full name
        if any(a.name == full for a in self.applications.values()):
            raise ApiError(129, "Application name isn't unique")
        return full

    def add_application(self, params: Mapping[str, str]) -> dict[str, Any]:
        if not params.get("application_name"):
            raise invalid()
        app = self._add_application(self._short_name(params, "application_name"))
        app.secure_record_storage = bool_param(params, "secure_record_storage", False)
        return {"result": 1, "application_id": app.id, "application_name": app.name,
                "secure_record_storage": app.secure_record_storage}

    def set_application_info(self, params: Mapping[str, str]) -> dict[str, Any]:
        app = self._application(params, name_name="required_application_name")
        if params.get("application_name"):
            app.name = self._short_name(params, "application_name")
        app.secure_record_storage = bool_param(params, "secure_record_storage", app.secure_record_storage)
        app.modified = now()
        return {"result": 1, "application_name": app.name, "secure_record_storage": app.secure_record_storage}

    def get_applications(self, params: Mapping[str, str]) -> dict[str, Any]:
        wanted_id, part = int_param(params, "application_id"), params.get("application_name") or ""
        found = [a for a in self.applications.values()
                 if (wanted_id is None or a.id == wanted_id) and part in a.name]  # "the application name part"
        return page(found, params, lambda a: {"application_id": a.id, "application_name": a.name,
                                               "modified": a.modified,
                                               "secure_record_storage": a.secure_record_storage})

    # --- scenarios -----------------------------------------------------------------------------------------
    def _scenario_name(self, params: Mapping[str, str], name: str, *, keep: Scenario | None = None) -> str:
        value = params.get(name) or ""
        if not value or len(value) >= 30:  # "The length must be less than 30"
            raise ApiError(168, "The 'scenario_name' parameter is invalid")
        if any(s.name == value and s is not keep for s in self.scenarios.values()):
            raise ApiError(133, "The scenario name isn't unique")
        return value

    @staticmethod
    def _script(params: Mapping[str, str]) -> str | None:
        script = params.get("scenario_script")
        if script is not None and len(script.encode()) >= SCRIPT_LIMIT:
            raise ApiError(130, "The script text is too long")
        return script

    def _scenario_by(self, params: Mapping[str, str], id_name: str, name_name: str) -> Scenario:
        given = one_of(params, id_name, name_name)
        if given == id_name:
            found = self.scenarios.get(int_param(params, id_name))
        else:
            found = next((s for s in self.scenarios.values() if s.name == params[name_name]), None)
        if found is None:
            raise ApiError(132, "The 'scenario_id' parameter is invalid")
        return found

    def add_scenario(self, params: Mapping[str, str]) -> dict[str, Any]:
        app = self._application(params, required=False)
        script = self._script(params) or ""
        existing = next((s for s in self.scenarios.values() if s.name == params.get("scenario_name")), None)
        if existing is not None and bool_param(params, "rewrite", False):
            existing.script, existing.modified = script, now()
            return {"result": 1, "scenario_id": existing.id}
        scenario = Scenario(next(self._scenario_ids), self._scenario_name(params, "scenario_name"), script,
                            app.id if app else None, now())
        rule = self._rule_by(params, required=False)
        if rule is not None:
            self._bind(scenario, rule)
        self.scenarios[scenario.id] = scenario
        return {"result": 1, "scenario_id": scenario.id}

    def get_scenarios(self, params: Mapping[str, str]) -> dict[str, Any]:
        wanted_id, part = int_param(params, "scenario_id"), (params.get("scenario_name") or "").lower()
        with_script = bool_param(params, "with_script", False)
        if with_script and wanted_id is None:  # "You must specify the 'scenario_id' too!" (code unconfirmed)
            raise invalid()
        app = self._application(params, required=False)
        found = [s for s in self.scenarios.values()
                 if (wanted_id is None or s.id == wanted_id) and part in s.name.lower()  # case-insensitive part
                 and (app is None or s.application_id == app.id)]

        def shape(s: Scenario) -> dict[str, Any]:
            info = {"scenario_id": s.id, "scenario_name": s.name, "modified": s.modified, "parent": False}
            return {**info, "scenario_script": s.script} if with_script else info
        return page(found, params, shape)

    def set_scenario_info(self, params: Mapping[str, str]) -> dict[str, Any]:
        scenario = self._scenario_by(params, "scenario_id", "required_scenario_name")
        if params.get("scenario_name") is not None:
            scenario.name = self._scenario_name(params, "scenario_name", keep=scenario)
        script = self._script(params)
        if script is not None:
            scenario.script = script
        scenario.modified = now()
        return {"result": 1}

    def bind_scenario(self, params: Mapping[str, str]) -> dict[str, Any]:
        given = one_of(params, "scenario_id", "scenario_name")
        app = self._application(params)
        rule = self._rule_by(params, app=app)
        names = list_param(params, given)
        for item in names:
            scenario = self._scenario_by({given: item}, "scenario_id", "scenario_name")
            if bool_param(params, "bind", True):
                self._bind(scenario, rule)
            elif scenario.id in rule.scenario_ids:
                rule.scenario_ids.remove(scenario.id)
        rule.modified = now()
        return {"result": 1}

    @staticmethod
    def _bind(scenario: Scenario, rule: Rule) -> None:
        # "the scenario and the routing rule need to be within the same application" (code unconfirmed)
        if scenario.application_id not in (None, rule.application_id):
            raise invalid()
        if scenario.id not in rule.scenario_ids:
            rule.scenario_ids.append(scenario.id)

    # --- rules ---------------------------------------------------------------------------------------------
    def _rule_by(self, params: Mapping[str, str], *, app: Application | None = None,
                 required: bool = True) -> Rule | None:
        given = one_of(params, "rule_id", "rule_name", required=required)
        if given is None:
            return None
        if given == "rule_id":
            rule = self.rules.get(int_param(params, "rule_id"))
        else:
            rule = next((r for r in self.rules.values() if r.name == params["rule_name"]
                         and (app is None or r.application_id == app.id)), None)
        if rule is None or (app is not None and rule.application_id != app.id):
            raise ApiError(147, "The 'rule_id' parameter is invalid")
        return rule

    def _rule_name(self, params: Mapping[str, str], app_id: int, *, keep: Rule | None = None) -> str:
        name = params.get("rule_name") or ""
        if not name or len(name) >= 100:  # "The length must be less than 100"
            raise ApiError(156, "The 'rule_name' parameter is invalid")
        if any(r.name == name and r.application_id == app_id and r is not keep for r in self.rules.values()):
            raise ApiError(175, "The 'rule_name' isn't unique")
        return name

    @staticmethod
    def _pattern(params: Mapping[str, str], name: str, code: int) -> str | None:
        """The regex given as `name`, None when absent. The service's regex dialect is not documented;
        Python's stands in for it."""
        pattern = params.get(name)
        if pattern is None:
            return None
        try:
            re.compile(pattern)
        except re.error:
            raise ApiError(code, f"The '{name}' parameter is invalid") from None
        if len(pattern.encode()) >= PATTERN_LIMIT:
            raise ApiError(code, f"The '{name}' parameter is invalid")
        return pattern

    def add_rule(self, params: Mapping[str, str]) -> dict[str, Any]:
        app = self._application(params)
        name = self._rule_name(params, app.id)
        pattern = self._pattern(params, "rule_pattern", 148)
        if not pattern:
            raise ApiError(148, "The 'rule_pattern' parameter is invalid")
        given = one_of(params, "scenario_id", "scenario_name")
        scenarios = [self._scenario_by({given: item}, "scenario_id", "scenario_name") for item in list_param(params, given)]
        rule = Rule(next(self._rule_ids), app.id, name, pattern, [],
                    self._pattern(params, "rule_pattern_exclude", 149) or "",
                    bool_param(params, "video_conference", False), now())
        for scenario in scenarios:
            self._bind(scenario, rule)
        self.rules[rule.id] = rule
        return {"result": 1, "rule_id": rule.id}

    def set_rule_info(self, params: Mapping[str, str]) -> dict[str, Any]:
        rule = self.rules.get(int_param(params, "rule_id", required=True))
        if rule is None:
            raise ApiError(147, "The 'rule_id' parameter is invalid")
        if params.get("rule_name") is not None:
            rule.name = self._rule_name(params, rule.application_id, keep=rule)
        pattern = self._pattern(params, "rule_pattern", 148)
        if pattern == "":
            raise ApiError(148, "The 'rule_pattern' parameter is invalid")
        rule.pattern = pattern or rule.pattern
        exclude = self._pattern(params, "rule_pattern_exclude", 149)
        rule.pattern_exclude = rule.pattern_exclude if exclude is None else exclude
        rule.video_conference = bool_param(params, "video_conference", rule.video_conference)
        rule.modified = now()
        return {"result": 1}

    def get_rules(self, params: Mapping[str, str]) -> dict[str, Any]:
        app = self._application(params)  # GetRules requires the application
        wanted_id, part = int_param(params, "rule_id"), params.get("rule_name") or ""
        with_scenarios = bool_param(params, "with_scenarios", False)
        found = [r for r in self.rules.values()
                 if r.application_id == app.id and (wanted_id is None or r.id == wanted_id) and part in r.name]

        def shape(r: Rule) -> dict[str, Any]:
            info: dict[str, Any] = {"rule_id": r.id, "application_id": r.application_id, "rule_name": r.name,
                                    "rule_pattern": r.pattern, "rule_pattern_exclude": r.pattern_exclude,
                                    "video_conference": r.video_conference, "modified": r.modified}
            if with_scenarios:
                info["scenarios"] = [{"scenario_id": s.id, "scenario_name": s.name, "modified": s.modified,
                                      "parent": False} for s in map(self.scenarios.get, r.scenario_ids) if s]
            return info
        return page(found, params, shape)

    COMMANDS: dict[str, str] = {
        "AddApplication": "add_application", "SetApplicationInfo": "set_application_info",
        "GetApplications": "get_applications", "AddScenario": "add_scenario", "GetScenarios": "get_scenarios",
        "SetScenarioInfo": "set_scenario_info", "BindScenario": "bind_scenario", "AddRule": "add_rule",
        "GetRules": "get_rules", "SetRuleInfo": "set_rule_info", "GetCallerIDs": "get_caller_ids",
        "GetPhoneNumbers": "get_phone_numbers",
    }

    def handle(self, cmd: str, params: Mapping[str, str]) -> dict[str, Any]:
        return getattr(self, self.COMMANDS[cmd])(params)
