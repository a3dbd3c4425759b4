"""Property-based fuzzing (schemathesis, valid and invalid input): the public API from its own OpenAPI
schema, and the dashboard's pages, charts and CSVs from a schema of their query parameters, as a
logged-in manager. Whatever is sent, the answer is never a server error (5xx) and its status is one
the schema documents.

Bounded in time: a fixed number of examples per operation (FUZZ_EXAMPLES), about a minute in all on
two cores.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from leadcaller.wsgi import application

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "80"))
CHECKS = [not_a_server_error, status_code_conformance]

api = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

_ANY = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
_DAY = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string"}]}


def _param(name: str, schema: dict, *edges: str) -> dict:
    """A query parameter; `edges` are values the examples phase sends as they are (the ends of the
    calendar, the zones furthest from UTC), which random dates almost never hit together."""
    examples = {f"edge{i}": {"value": value} for i, value in enumerate(edges)}
    return {"name": name, "in": "query", "schema": schema, **({"examples": examples} if examples else {})}


_FILTER = [
    _param("range", {"anyOf": [{"enum": ["today", "7", "30", "custom"]}, {"type": "string"}]}, "custom"),
    _param("start", _DAY, "9999-12-01", "0001-01-01"),
    _param("end", _DAY, "9999-12-31", "0001-01-02"),
    _param("site", _ANY),
    _param("partner", _ANY),
    _param("tz", {"anyOf": [{"enum": ["Europe/Moscow", "UTC", "Pacific/Kiritimati", "Etc/GMT+12"]},
                            {"type": "string"}]}, "Pacific/Kiritimati", "Etc/GMT+12"),
]
_PAGES = ("/dashboard/", "/dashboard/charts/series/", "/dashboard/charts/outcomes/",
          "/dashboard/charts/partner-sums/", "/dashboard/partners.csv", "/dashboard/sites.csv")
dashboard = schemathesis.openapi.from_dict({
    "openapi": "3.0.3",
    "info": {"title": "Leadcaller dashboard (its filter)", "version": "1"},
    "paths": {path: {"get": {"parameters": _FILTER, "responses": {
        "200": {"description": "The figures for the filter"},
        "400": {"description": "A filter that is not valid: dates out of range or in the wrong order"}}}}
        for path in _PAGES},
})
dashboard.app = application


@pytest.fixture
def fuzz_site(db):
    from tests.factories import SiteFactory

    return SiteFactory(domain="localhost")


@pytest.fixture
def open_limits(settings):
    settings.THROTTLE_PER_IP = settings.THROTTLE_PER_PHONE = None
    settings.VOXIMPLANT_CALLBACK_SECRET = "fuzz-secret"


@pytest.fixture
def attempts(fuzz_site) -> list[int]:
    """Call attempts in the states a token may meet: calling, starting, finished."""
    from telephony.models import CallAttempt
    from tests.factories import CallAttemptFactory, LeadFactory

    statuses = [CallAttempt.Status.STARTED, CallAttempt.Status.STARTING, CallAttempt.Status.FINISHED]
    return [CallAttemptFactory(lead=LeadFactory(site=fuzz_site), phone="+79123456789",
                               status=status).pk for status in statuses]


def aim_at_real_attempts(case, attempts: list[int]) -> None:
    """Point a generated attempt id below a million at one of ours (the fuzzer's would almost never
    exist, and an unknown attempt is refused before its token is looked at), and give it that
    attempt's token when the generated token has an even length: both the comparison of any token
    with a real one and the handling of a result behind a valid token are fuzzed."""
    from telephony.tokens import attempt_token

    for data in (case.body, case.query):
        if not isinstance(data, dict) or not isinstance(data.get("attempt_id"), int):
            continue
        if 1 <= data["attempt_id"] < 10 ** 6:
            data["attempt_id"] = attempts[data["attempt_id"] % len(attempts)]
            if isinstance(data.get("token"), str) and len(data["token"]) % 2 == 0:
                data["token"] = attempt_token(data["attempt_id"])


@pytest.fixture
def dnc_token(groups) -> str:
    """An administrator's API token: the do-not-call API's bodies are fuzzed behind valid credentials
    (without them every request is a 401, which tests/dnc/test_api.py covers)."""
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_user("fuzz-administrator", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="administrators"))
    return Token.objects.create(user=user).key


def authorise_dnc(case, token: str) -> None:
    if case.path.startswith("/api/v1/dnc/"):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {token}"}


@pytest.fixture
def manager_cookie(client, groups, fuzz_site) -> dict[str, str]:
    """A logged-in manager's session, with a little history for the figures to count."""
    from django.contrib.auth.models import Group, User

    from tests.factories import LeadFactory, PartnerFactory

    LeadFactory(site=fuzz_site, partner=PartnerFactory(), order_amount=1500, currency="RUB")
    manager = User.objects.create_user("fuzz-manager", password="x")
    manager.groups.add(Group.objects.get(name="managers"))
    client.force_login(manager)
    return {"sessionid": client.cookies["sessionid"].value}


@api.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db(transaction=True)
def test_api_never_answers_a_server_error(case, fuzz_site, open_limits, attempts, dnc_token):
    aim_at_real_attempts(case, attempts)
    authorise_dnc(case, dnc_token)
    case.call_and_validate(checks=CHECKS)


@dashboard.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db(transaction=True)
def test_dashboard_never_answers_a_server_error_whatever_its_filter(case, manager_cookie):
    case.call_and_validate(checks=CHECKS, cookies=manager_cookie)
