"""The VoxImplant account this checkout needs: an application, our scenario uploaded exactly as it is
here, a rule that runs only that scenario, and caller IDs the account may use.

`voximplant_setup(apply=True)` creates or updates what is missing or different and leaves the rest
alone (so a second run changes nothing); `apply=False` only reports. `manage.py voximplant_setup`
and the admin's VoxImplant check both use it. Method and parameter names follow the official
clients (voximplant/apiclient-python, apiclient-nodejs): list filters by name match parts of names,
so every look-up compares the exact name itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from leads.models import Site
from telephony.caller_id import CallerIdError, caller_id_normalize
from telephony.scenario import declared_version, scenario_source, scenario_version
from telephony.voximplant import VoximplantClient

OK, CREATED, UPDATED = "ok", "created", "updated"
MISSING, DIFFERS, REFUSED = "missing", "differs", "refused"
PROBLEMS = (MISSING, DIFFERS, REFUSED)
DEFAULT_NAME = "leadcaller"
# Rules also route incoming calls by this pattern; ours is started only by StartScenarios, so its
# pattern matches no phone number.
DEFAULT_RULE_PATTERN = "leadcaller-start-scenarios-only"


@dataclass(frozen=True)
class Target:
    application: str = DEFAULT_NAME  # the short name: <name>.<account>.voximplant.com
    scenario: str = DEFAULT_NAME
    rule: str = DEFAULT_NAME
    rule_pattern: str = DEFAULT_RULE_PATTERN
    caller_id: str = ""  # the one VOXIMPLANT_CALLER_ID should name
    site_caller_ids: tuple[str, ...] = ()  # the sites' own, checked as well


@dataclass(frozen=True)
class Finding:
    subject: str
    state: str
    detail: str = ""


@dataclass
class SetupReport:
    findings: list[Finding] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # the environment lines to set

    def add(self, subject: str, state: str, detail: str = "") -> None:
        self.findings.append(Finding(subject, state, detail))

    @property
    def changed(self) -> bool:
        return any(f.state in (CREATED, UPDATED) for f in self.findings)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.state in PROBLEMS]


def target_from_settings(**names: str) -> Target:
    """Names from the command line (or the defaults), the caller ID of the settings unless given."""
    sites = Site.objects.filter(is_active=True).exclude(caller_id="").values_list("caller_id", flat=True)
    given = {key: value for key, value in names.items() if value}
    return Target(**{"caller_id": settings.VOXIMPLANT_CALLER_ID, **given},
                  site_caller_ids=tuple(sorted(set(sites))))


def configured_target(client: VoximplantClient) -> Target | None:
    """The application, scenario and rule behind VOXIMPLANT_RULE_ID, whatever their names (the admin's
    check has no command line); None when no application has that rule."""
    rule_id = str(settings.VOXIMPLANT_RULE_ID)
    for app in client.list_all("GetApplications"):
        rules = client.list_all("GetRules", {"application_id": app["application_id"], "rule_id": rule_id,
                                             "with_scenarios": True})
        rule = next((r for r in rules if str(r.get("rule_id")) == rule_id), None)
        if rule is not None:
            scenarios = rule.get("scenarios") or [{"scenario_name": DEFAULT_NAME}]
            return replace(target_from_settings(), application=str(app["application_name"]).split(".")[0],
                           scenario=scenarios[0]["scenario_name"], rule=rule["rule_name"],
                           rule_pattern=rule.get("rule_pattern", ""))
    return None


def voximplant_setup(*, client: VoximplantClient, target: Target, apply: bool) -> SetupReport:
    report = SetupReport()
    app = _application(client, target.application, apply, report)
    scenario_id = _scenario(client, app, target.scenario, apply, report)
    rule_id = _rule(client, app, target, scenario_id, apply, report)
    caller_id = _caller_ids(client, target, report)
    _environment({"VOXIMPLANT_RULE_ID": str(rule_id or ""), "VOXIMPLANT_CALLER_ID": caller_id}, report)
    return report


def _exact(records: list[dict[str, Any]], key: str, name: str) -> dict[str, Any] | None:
    return next((r for r in records if r.get(key) == name), None)


def _application(client: VoximplantClient, short: str, apply: bool, report: SetupReport) -> dict | None:
    subject = _("application %(name)s") % {"name": short}
    apps = client.list_all("GetApplications", {"application_name": short})
    found = next((a for a in apps if str(a.get("application_name", "")).split(".")[0] == short), None)
    if found is not None:
        report.add(subject, OK, found["application_name"])
    elif apply:
        found = client.call("AddApplication", {"application_name": short})
        report.add(subject, CREATED, found["application_name"])
    else:
        report.add(subject, MISSING)
    return found


def _scenario(client: VoximplantClient, app: dict | None, name: str, apply: bool, report: SetupReport) -> int | None:
    subject, ours, source = _("scenario %(name)s") % {"name": name}, scenario_version(), scenario_source()
    if app is None:
        report.add(subject, MISSING, _("the application does not exist"))
        return None
    listed = client.list_all("GetScenarios", {"scenario_name": name, "application_id": app["application_id"]})
    found = _exact(listed, "scenario_name", name)
    if found is None:
        if not apply:
            report.add(subject, MISSING)
            return None
        body = client.call("AddScenario", {"scenario_name": name, "scenario_script": source,
                                           "application_id": app["application_id"]})
        report.add(subject, CREATED, _("version %(ours)s uploaded") % {"ours": ours})
        return int(body["scenario_id"])
    uploaded = client.call("GetScenarios", {"scenario_id": found["scenario_id"], "with_script": True})["result"]
    script = uploaded[0].get("scenario_script", "") if uploaded else ""
    if script == source:
        report.add(subject, OK, _("version %(ours)s, the same source as this checkout") % {"ours": ours})
    else:
        theirs = declared_version(script)
        detail = (_("uploaded version %(theirs)s, this checkout has version %(ours)s")
                  if theirs != ours else _("version %(ours)s, but the uploaded source differs from this checkout"))
        detail %= {"theirs": theirs if theirs is not None else "?", "ours": ours}
        if apply:
            client.call("SetScenarioInfo", {"scenario_id": found["scenario_id"], "scenario_script": source})
        report.add(subject, UPDATED if apply else DIFFERS, detail)
    return int(found["scenario_id"])


def _rule(client: VoximplantClient, app: dict | None, target: Target, scenario_id: int | None, apply: bool,
          report: SetupReport) -> int | None:
    subject = _("rule %(name)s") % {"name": target.rule}
    if app is None or scenario_id is None:
        report.add(subject, MISSING, _("its application or scenario does not exist"))
        return None
    app_id = app["application_id"]
    listed = client.list_all("GetRules", {"application_id": app_id, "rule_name": target.rule, "with_scenarios": True})
    found = _exact(listed, "rule_name", target.rule)
    if found is None:
        if not apply:
            report.add(subject, MISSING)
            return None
        body = client.call("AddRule", {"application_id": app_id, "rule_name": target.rule,
                                       "rule_pattern": target.rule_pattern, "scenario_id": scenario_id})
        report.add(subject, CREATED, _("id %(id)s, runs only scenario %(scenario)s") % {
            "id": body["rule_id"], "scenario": target.scenario})
        return int(body["rule_id"])
    rule_id = int(found["rule_id"])
    bound = [int(s["scenario_id"]) for s in found.get("scenarios") or []]
    differences = []
    if found.get("rule_pattern") != target.rule_pattern:
        differences.append(_("its pattern is %(pattern)r") % {"pattern": found.get("rule_pattern")})
    if bound != [scenario_id]:
        names = ", ".join(s["scenario_name"] for s in found.get("scenarios") or []) or "—"
        differences.append(_("it runs %(names)s, not only %(scenario)s") % {"names": names,
                                                                             "scenario": target.scenario})
    if not differences:
        report.add(subject, OK, _("id %(id)s, runs only scenario %(scenario)s") % {"id": rule_id,
                                                                                   "scenario": target.scenario})
    elif not apply:
        report.add(subject, DIFFERS, "; ".join(differences))
    else:
        _rule_fix(client, app_id, rule_id, found, target, scenario_id, bound)
        report.add(subject, UPDATED, "; ".join(differences))
    return rule_id


def _rule_fix(client: VoximplantClient, app_id: int, rule_id: int, found: dict, target: Target, scenario_id: int,
              bound: list[int]) -> None:
    if found.get("rule_pattern") != target.rule_pattern:
        client.call("SetRuleInfo", {"rule_id": rule_id, "rule_pattern": target.rule_pattern})
    if scenario_id not in bound:
        client.call("BindScenario", {"scenario_id": scenario_id, "rule_id": rule_id, "application_id": app_id,
                                     "bind": True})
    others = [other for other in bound if other != scenario_id]
    if others:
        client.call("BindScenario", {"scenario_id": others, "rule_id": rule_id, "application_id": app_id,
                                     "bind": False})


def _caller_ids(client: VoximplantClient, target: Target, report: SetupReport) -> str:
    """Each caller ID must be a number the account rents (not a test number) or has verified: VoxEngine's
    callPSTN refuses any other. Returns the main one, as VoxImplant writes it."""
    if not target.caller_id:
        report.add(_("caller ID"), MISSING, _("give --caller-id or set VOXIMPLANT_CALLER_ID"))
    main = ""
    for raw in dict.fromkeys([target.caller_id, *target.site_caller_ids]):
        if not raw:
            continue
        try:
            digits = caller_id_normalize(raw, region=settings.PHONE_REGION)
        except CallerIdError as exc:
            report.add(_("caller ID %(number)s") % {"number": raw}, REFUSED, str(exc))
            continue
        state, detail = _caller_id_use(client, digits)
        report.add(_("caller ID %(number)s") % {"number": digits}, state, detail)
        if raw == target.caller_id and state == OK:
            main = digits
    return main


def _caller_id_use(client: VoximplantClient, digits: str) -> tuple[str, str]:
    rented = client.list_all("GetPhoneNumbers", {"phone_number": digits, "sandbox": "false"})
    if any(n.get("phone_number") == digits and not n.get("deactivated") and not n.get("canceled") for n in rented):
        return OK, _("a phone number the account rents")
    today = date.today().isoformat()
    for caller in client.list_all("GetCallerIDs", {"callerid_number": digits}):
        until = str(caller.get("verified_until") or "")
        if caller.get("callerid_number") == digits and caller.get("active") and until >= today:
            return OK, _("a caller ID verified until %(date)s") % {"date": until}
    return REFUSED, _("the account neither rents this number nor has it verified, so VoxEngine would refuse it")


def _environment(wanted: dict[str, str], report: SetupReport) -> None:
    report.env = {name: value for name, value in wanted.items() if value}
    for name, value in report.env.items():
        current = str(getattr(settings, name) or "")
        if current != value:
            report.add(_("environment %(name)s") % {"name": name}, DIFFERS,
                       _("is %(current)r here; set it to %(value)s") % {"current": current, "value": value})
