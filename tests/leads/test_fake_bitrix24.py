"""Self-tests of the Bitrix24 fake: it must answer like the real portal and OAuth server, or tests built on it lie.

No Django and no database: only the fake and `requests`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from demo.fakes.bitrix24 import FakeBitrix24, parse_php_query
from demo.fakes.bitrix24_limits import OperatingBudget

TIMEOUT = 2.0


@pytest.fixture
def b24() -> Iterator[FakeBitrix24]:
    with FakeBitrix24(timeout_delay=0.5) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # never route 127.0.0.1 through an environment proxy
        yield session


def call(http: requests.Session, fake: FakeBitrix24, method: str, payload: dict[str, Any] | None = None,
         **kwargs: Any) -> requests.Response:
    """POST a JSON body to the inbound webhook, without following redirects (as our client must)."""
    kwargs.setdefault("allow_redirects", False)
    return http.post(f"{fake.webhook_url}{method}", json=payload or {}, timeout=TIMEOUT, **kwargs)


def add_lead(http: requests.Session, fake: FakeBitrix24, **fields: Any) -> int:
    answer = call(http, fake, "crm.lead.add", {"fields": {"TITLE": "Web lead", **fields}})
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def token_request(http: requests.Session, fake: FakeBitrix24, **params: Any) -> requests.Response:
    query = {"client_id": fake.client_id, "client_secret": fake.client_secret, **params}
    return http.get(f"{fake.oauth_url}oauth/token/", params=query, timeout=TIMEOUT)


# --- webhook calls, leads ------------------------------------------------------------------------------------

def test_webhook_add_and_get_round_trip_with_multifields(b24: FakeBitrix24, http: requests.Session) -> None:
    answer = call(http, b24, "crm.lead.add.json", {
        "fields": {"TITLE": "Site: call me", "NAME": "Anna", "SOURCE_ID": "WEB", "ASSIGNED_BY_ID": 7,
                   "PHONE": [{"VALUE": "+79001234567", "VALUE_TYPE": "MOBILE"}],
                   "EMAIL": [{"VALUE": "anna@example.com", "VALUE_TYPE": "WORK"}],
                   "UF_CRM_CALL_RESULT": "pending", "NO_SUCH_FIELD": "ignored"},
        "params": {"REGISTER_SONET_EVENT": "Y"}})
    assert answer.status_code == 200
    body = answer.json()
    lead_id = body["result"]
    assert isinstance(lead_id, int)
    assert {"start", "finish", "duration", "processing", "date_start", "date_finish", "operating",
            "operating_reset_at"} <= set(body["time"])

    lead = call(http, b24, "crm.lead.get", {"id": lead_id}).json()["result"]
    assert lead["ID"] == str(lead_id) and lead["TITLE"] == "Site: call me" and lead["ASSIGNED_BY_ID"] == "7"
    assert lead["STATUS_ID"] == "NEW" and lead["HAS_PHONE"] == "Y" and lead["UF_CRM_CALL_RESULT"] == "pending"
    (phone,) = lead["PHONE"]
    assert phone["VALUE"] == "+79001234567" and phone["VALUE_TYPE"] == "MOBILE" and phone["TYPE_ID"] == "PHONE"
    assert phone["ID"] and lead["EMAIL"][0]["TYPE_ID"] == "EMAIL"
    assert "NO_SUCH_FIELD" not in lead  # unknown names are silently ignored
    assert b24.leads[lead_id] == lead
    assert b24.requests[0].auth == "webhook" and b24.requests[0].method == "crm.lead.add"


def test_a_company_or_contact_makes_the_lead_a_repeat_lead_of_that_client(b24: FakeBitrix24,
                                                                         http: requests.Session) -> None:
    plain = add_lead(http, b24, IS_RETURN_CUSTOMER="Y")  # not settable
    with_company = add_lead(http, b24, COMPANY_ID=2919)
    with_contact = add_lead(http, b24, CONTACT_ID=77)

    assert b24.leads[plain]["IS_RETURN_CUSTOMER"] == "N"
    assert (b24.leads[with_company]["IS_RETURN_CUSTOMER"], b24.leads[with_company]["COMPANY_ID"]) == ("Y", "2919")
    assert b24.leads[with_contact]["IS_RETURN_CUSTOMER"] == "Y"


def test_wrong_webhook_code_or_user_is_no_auth_found(b24: FakeBitrix24, http: requests.Session) -> None:
    for url in (f"{b24.portal_url}rest/1/wrong-code/crm.lead.fields", f"{b24.portal_url}rest/2/{b24.webhook_code}/"
                "crm.lead.fields"):
        answer = http.post(url, json={}, timeout=TIMEOUT)
        assert answer.status_code == 401
        assert answer.json() == {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}


def test_lead_add_validation_and_refused_fields(http: requests.Session) -> None:
    with FakeBitrix24(reject_fields=["UF_CRM_CALL_ATTEMPTS"]) as fake:
        for fields in ({}, {"COMMENTS": "no title, name or phone"}):
            answer = call(http, fake, "crm.lead.add", {"fields": fields})
            assert answer.status_code == 400 and answer.json()["error"] == ""
            assert answer.json()["error_description"]
        answer = call(http, fake, "crm.lead.add", {"fields": {"TITLE": "x", "UF_CRM_CALL_ATTEMPTS": 1}})
        assert answer.status_code == 400 and answer.json()["error"] == ""
        assert "UF_CRM_CALL_ATTEMPTS" in answer.json()["error_description"]
        assert fake.leads == {}


def test_lead_update_and_multifield_semantics(b24: FakeBitrix24, http: requests.Session) -> None:
    lead_id = add_lead(http, b24, PHONE=[{"VALUE": "+7900111", "VALUE_TYPE": "WORK"}])
    phone_id = b24.leads[lead_id]["PHONE"][0]["ID"]
    answer = call(http, b24, "crm.lead.update", {"id": lead_id, "fields": {
        "STATUS_ID": "IN_PROCESS", "PHONE": [{"ID": phone_id, "VALUE": "+7900222"}, {"VALUE": "+7900333"}]}})
    assert answer.status_code == 200 and answer.json()["result"] is True
    lead = b24.leads[lead_id]
    assert lead["STATUS_ID"] == "IN_PROCESS"
    assert [(p["ID"] == phone_id, p["VALUE"]) for p in lead["PHONE"]] == [(True, "+7900222"), (False, "+7900333")]
    call(http, b24, "crm.lead.update", {"id": lead_id, "fields": {"PHONE": [{"ID": phone_id, "DELETE": "Y"}]}})
    assert [p["VALUE"] for p in b24.leads[lead_id]["PHONE"]] == ["+7900333"]

    missing = call(http, b24, "crm.lead.update", {"id": 999999, "fields": {"TITLE": "x"}})
    assert missing.status_code == 400 and missing.json() == {"error": "", "error_description": "Not found"}
    assert call(http, b24, "crm.lead.get", {"id": "abc"}).json()["error_description"].startswith("ID is not")


def test_form_encoded_nested_params(b24: FakeBitrix24, http: requests.Session) -> None:
    form = ("fields[TITLE]=Form+lead&fields[PHONE][0][VALUE]=%2B79005550000&fields[PHONE][0][VALUE_TYPE]=WORK"
            "&fields[EMAIL][0][VALUE]=a%40b.c&params[REGISTER_SONET_EVENT]=Y")
    answer = http.post(f"{b24.webhook_url}crm.lead.add", data=form, timeout=TIMEOUT,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200
    lead = b24.leads[answer.json()["result"]]
    assert lead["TITLE"] == "Form lead" and lead["PHONE"][0]["VALUE"] == "+79005550000"
    # The same through the query string of a GET.
    got = http.get(f"{b24.webhook_url}crm.lead.get", params={"id": lead["ID"]}, timeout=TIMEOUT)
    assert got.json()["result"]["EMAIL"][0]["VALUE"] == "a@b.c"


def test_parse_php_query_builds_nested_dicts_and_lists() -> None:
    assert parse_php_query("a[b][0][c]=1&a[b][0][d]=2&a[b][1][c]=3&x[]=p&x[]=q&y=z&k[n0][V]=v") == {
        "a": {"b": [{"c": "1", "d": "2"}, {"c": "3"}]}, "x": ["p", "q"], "y": "z", "k": {"n0": {"V": "v"}}}


def test_lead_list_filters_by_origin(b24: FakeBitrix24, http: requests.Session) -> None:
    first = add_lead(http, b24, ORIGINATOR_ID="leadcaller", ORIGIN_ID="lead-1")
    add_lead(http, b24, ORIGINATOR_ID="leadcaller", ORIGIN_ID="lead-2")
    add_lead(http, b24, ORIGINATOR_ID="other", ORIGIN_ID="lead-1")
    answer = call(http, b24, "crm.lead.list", {"filter": {"=ORIGINATOR_ID": "leadcaller", "ORIGIN_ID": "lead-1"},
                                                "select": ["ID", "ORIGIN_ID"]}).json()
    assert answer["result"] == [{"ID": str(first), "ORIGIN_ID": "lead-1"}]
    assert answer["total"] == 1 and "next" not in answer
    by_id = call(http, b24, "crm.lead.list", {"filter": {"ID": first}}).json()["result"]
    assert [row["ID"] for row in by_id] == [str(first)] and "PHONE" not in by_id[0]
    assert call(http, b24, "crm.lead.list", {"filter": {"ORIGIN_ID": "nope"}}).json()["result"] == []


def test_lead_fields_describes_standard_and_custom_fields(b24: FakeBitrix24, http: requests.Session) -> None:
    fields = call(http, b24, "crm.lead.fields").json()["result"]
    assert fields["PHONE"]["isMultiple"] is True and fields["ID"]["isReadOnly"] is True
    assert fields["TITLE"] == {"type": "string", "isRequired": False, "isReadOnly": False, "isImmutable": False,
                               "isMultiple": False, "isDynamic": False, "title": "Title"}
    assert fields["UF_CRM_CALL_RESULT"]["isDynamic"] is True and "ORIGIN_ID" in fields


# --- companies, statuses, timeline ---------------------------------------------------------------------------

def test_company_list_pagination_select_and_filter(b24: FakeBitrix24, http: requests.Session) -> None:
    ids = b24.seed_companies(120)
    b24.add_company("Our customer", company_type="CUSTOMER", PHONE="+7900")
    query: dict[str, Any] = {"filter": {"COMPANY_TYPE": "PARTNER"}, "select": ["ID", "TITLE"],
                             "order": {"ID": "ASC"}}
    pages, start = [], 0
    while True:
        page = call(http, b24, "crm.company.list", {**query, "start": start}).json()
        pages.append(page)
        if "next" not in page:
            break
        start = page["next"]
    assert [p.get("next") for p in pages] == [50, 100, None]
    assert [len(p["result"]) for p in pages] == [50, 50, 20] and all(p["total"] == 120 for p in pages)
    rows = [row for p in pages for row in p["result"]]
    assert [row["ID"] for row in rows] == [str(i) for i in ids]  # string ids
    assert set(rows[0]) == {"ID", "TITLE"}  # PHONE only when selected

    with_phone = call(http, b24, "crm.company.list", {**query, "select": ["ID", "PHONE"]}).json()["result"]
    assert with_phone[0]["PHONE"][0]["VALUE"] == "+79000000001"
    star = call(http, b24, "crm.company.list", {**query, "select": ["*"]}).json()["result"][0]
    assert "PHONE" not in star and star["COMPANY_TYPE"] == "PARTNER"
    after = call(http, b24, "crm.company.list", {"filter": {">ID": ids[-3]}, "order": {"ID": "DESC"}}).json()
    assert [row["ID"] for row in after["result"]] == [str(ids[-1] + 1), str(ids[-1]), str(ids[-2])]


def test_status_list_dictionaries(b24: FakeBitrix24, http: requests.Session) -> None:
    sources = http.get(f"{b24.webhook_url}crm.status.list", params={"filter[ENTITY_ID]": "SOURCE"},
                       timeout=TIMEOUT).json()["result"]
    assert "WEB" in [s["STATUS_ID"] for s in sources] and {s["ENTITY_ID"] for s in sources} == {"SOURCE"}
    types = call(http, b24, "crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}}).json()["result"]
    assert {"CUSTOMER", "PARTNER"} <= {t["STATUS_ID"] for t in types}


def test_timeline_comment_add_and_errors(b24: FakeBitrix24, http: requests.Session) -> None:
    lead_id = add_lead(http, b24)
    answer = call(http, b24, "crm.timeline.comment.add",
                  {"fields": {"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead", "COMMENT": "Call: answered, 42 s"}})
    assert answer.status_code == 200 and isinstance(answer.json()["result"], int)
    assert [c["COMMENT"] for c in b24.comments[lead_id]] == ["Call: answered, 42 s"]

    missing = call(http, b24, "crm.timeline.comment.add",
                   {"fields": {"ENTITY_ID": 999999, "ENTITY_TYPE": "lead", "COMMENT": "x"}})
    assert missing.status_code == 400 and missing.json()["error"] == "OWNER_NOT_FOUND"
    empty = call(http, b24, "crm.timeline.comment.add",
                 {"fields": {"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead", "COMMENT": "  "}})
    assert empty.status_code == 400 and empty.json()["error"] == "INVALID_ARG_VALUE"


def test_unknown_method_is_404(b24: FakeBitrix24, http: requests.Session) -> None:
    answer = call(http, b24, "crm.lead.nothing")
    assert answer.status_code == 404
    assert answer.json() == {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}


# --- batch ---------------------------------------------------------------------------------------------------

def test_batch_runs_sub_calls_and_reports_the_failing_one(b24: FakeBitrix24, http: requests.Session) -> None:
    answer = call(http, b24, "batch", {"halt": 0, "cmd": {
        "add": "crm.lead.add?fields[TITLE]=Batch%20lead&fields[PHONE][0][VALUE]=%2B7900",
        "get": "crm.lead.get?id=$result[add]",
        "bad": "crm.lead.update?id=999999&fields[TITLE]=x",
        "list": "crm.lead.list?filter[ID]=$result[add]&select[]=ID",
        "nested": "batch?cmd[x]=crm.lead.fields"}})
    assert answer.status_code == 200
    body = answer.json()["result"]
    lead_id = body["result"]["add"]
    assert body["result"]["get"]["PHONE"][0]["VALUE"] == "+7900"
    assert body["result"]["list"] == [{"ID": str(lead_id)}] and body["result_total"] == {"list": 1}
    assert body["result_error"] == {
        "bad": {"error": "", "error_description": "Not found"},
        "nested": {"error": "ERROR_BATCH_METHOD_NOT_ALLOWED", "error_description": "Method is not allowed for "
                   "batch usage"}}
    assert body["result_next"] == [] and set(body["result_time"]) == {"add", "get", "list"}
    assert len(b24.requests) == 1  # one HTTP request, one tick of the bucket


def test_batch_halt_stops_at_the_first_error(b24: FakeBitrix24, http: requests.Session) -> None:
    body = call(http, b24, "batch", {"halt": 1, "cmd": {
        "bad": "crm.lead.get?id=999999", "add": "crm.lead.add?fields[TITLE]=x"}}).json()["result"]
    assert set(body["result_error"]) == {"bad"} and body["result"] == [] and b24.leads == {}


def test_batch_over_50_commands_is_refused(b24: FakeBitrix24, http: requests.Session) -> None:
    answer = call(http, b24, "batch", {"cmd": {f"c{i}": "crm.lead.fields" for i in range(51)}})
    assert answer.status_code == 400 and answer.json()["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"
    assert call(http, b24, "batch", {"cmd": {f"c{i}": "crm.lead.fields" for i in range(50)}}).status_code == 200


# --- OAuth -----------------------------------------------------------------------------------------------------

def test_oauth_call_expire_refresh_and_rotation(b24: FakeBitrix24, http: requests.Session) -> None:
    tokens = b24.issue_tokens()
    assert tokens["client_endpoint"] == b24.client_endpoint and tokens["domain"] == "oauth.bitrix.info"
    url = f"{b24.client_endpoint}crm.lead.fields"
    assert http.get(url, params={"auth": tokens["access_token"]}, timeout=TIMEOUT).status_code == 200
    assert http.post(url, json={"auth": tokens["access_token"]}, timeout=TIMEOUT).status_code == 200
    unknown = http.post(url, json={"auth": "nope"}, timeout=TIMEOUT)
    assert unknown.status_code == 401 and unknown.json()["error"] == "NO_AUTH_FOUND"

    b24.expire_access_tokens()
    expired = http.post(url, json={"auth": tokens["access_token"]}, timeout=TIMEOUT)
    assert expired.status_code == 401
    assert expired.json() == {"error": "expired_token", "error_description": "The access token provided has expired."}

    fresh = token_request(http, b24, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert fresh.status_code == 200
    pair = fresh.json()
    assert pair["access_token"] != tokens["access_token"] and pair["refresh_token"] != tokens["refresh_token"]
    assert pair["expires_in"] == 3600 and pair["expires"] > time.time() + 3000
    assert (pair["scope"], pair["status"], pair["member_id"]) == ("crm", "L", b24.member_id)
    assert {"server_endpoint", "user_id", "client_endpoint", "domain"} <= set(pair)
    assert b24.refresh_count == 1
    assert http.post(url, json={"auth": pair["access_token"]}, timeout=TIMEOUT).status_code == 200
    assert b24.requests[-1].auth == "oauth" and b24.requests[-1].token == pair["access_token"]

    reused = token_request(http, b24, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert reused.status_code == 400
    assert reused.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}


def test_oauth_server_refuses_wrong_client_and_payment_required(b24: FakeBitrix24, http: requests.Session) -> None:
    refresh = b24.issue_tokens()["refresh_token"]
    wrong = token_request(http, b24, grant_type="refresh_token", refresh_token=refresh, client_secret="bad")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    b24.payment_required = True
    unpaid = token_request(http, b24, grant_type="refresh_token", refresh_token=refresh)
    assert unpaid.json()["error"] == "PAYMENT_REQUIRED" and unpaid.status_code >= 400
    b24.payment_required = False
    assert token_request(http, b24, grant_type="refresh_token", refresh_token=refresh).status_code == 200


def test_oauth_authorization_code_is_single_use_and_short_lived(http: requests.Session) -> None:
    with FakeBitrix24(auth_code_ttl=0.1) as fake:
        code = fake.issue_auth_code()
        first = token_request(http, fake, grant_type="authorization_code", code=code)
        assert first.status_code == 200 and first.json()["refresh_token"]
        assert token_request(http, fake, grant_type="authorization_code", code=code).json()["error"] == "invalid_grant"
        late = fake.issue_auth_code()
        time.sleep(0.15)
        assert token_request(http, fake, grant_type="authorization_code", code=late).status_code == 400


# --- rate limit ------------------------------------------------------------------------------------------------

def test_leaky_bucket_refuses_a_burst_then_recovers(http: requests.Session) -> None:
    with FakeBitrix24(burst=50, drain_per_second=5.0) as fake:
        answers = [call(http, fake, "crm.lead.fields") for _ in range(60)]
        assert [a.status_code for a in answers[:50]] == [200] * 50
        refused = [a for a in answers[50:] if a.status_code != 200]
        assert refused and {a.status_code for a in refused} == {503}
        assert refused[0].json() == {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
        time.sleep(0.5)
        assert call(http, fake, "crm.lead.fields").status_code == 200
        assert fake.peak_rate(1.0) >= 60


def test_the_plans_have_the_documented_thresholds(http: requests.Session) -> None:
    with FakeBitrix24(plan="enterprise") as fake:  # 250 at once, drained 5 per second meanwhile
        started, admitted = time.monotonic(), 0
        while call(http, fake, "crm.lead.fields").status_code == 200 and admitted < 1000:
            admitted += 1
        assert 250 <= admitted <= 250 + 5 * (time.monotonic() - started) + 1
    with FakeBitrix24() as fake:
        assert (fake.bucket.threshold, fake.bucket.drain_per_second) == (50, 2.0)


def test_rate_limit_can_be_switched_off_and_peak_rate_is_measured(http: requests.Session) -> None:
    with FakeBitrix24(rate_limit=False) as fake:
        assert {call(http, fake, "crm.lead.fields").status_code for _ in range(60)} == {200}
        fake.reset()
        for _ in range(3):
            call(http, fake, "crm.lead.fields")
            time.sleep(0.12)
        assert fake.peak_rate(0.1) == 1 and fake.peak_rate(1.0) == 3


# --- method-time budget ------------------------------------------------------------------------------------------

def test_every_answer_reports_the_methods_time_and_when_part_of_it_is_released(b24: FakeBitrix24,
                                                                               http: requests.Session) -> None:
    before = time.time()
    first = call(http, b24, "crm.lead.add", {"fields": {"TITLE": "x"}}).json()["time"]
    b24.use_method_time("crm.lead.add", 30.0)
    second = call(http, b24, "crm.lead.add", {"fields": {"TITLE": "y"}}).json()["time"]
    other = call(http, b24, "crm.lead.fields").json()["time"]

    assert 0 <= first["operating"] < 1 and second["operating"] >= 30 + first["operating"]
    # the first counted call stops counting ten minutes after it started
    assert before + 600 <= first["operating_reset_at"] == second["operating_reset_at"] <= time.time() + 601
    assert other["operating"] < 1  # per method
    batch = call(http, b24, "batch", {"cmd": {"a": "crm.lead.add?fields[TITLE]=z"}}).json()["result"]
    assert batch["result_time"]["a"]["operating"] >= 30


def test_a_method_over_its_time_budget_answers_429_until_released_while_others_work(
        b24: FakeBitrix24, http: requests.Session) -> None:
    b24.use_method_time("crm.lead.add", 481.0)  # 480 s within 10 minutes is the cloud's limit

    blocked = call(http, b24, "crm.lead.add", {"fields": {"TITLE": "x"}})
    assert blocked.status_code == 429 and blocked.json() == {
        "error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked due to operation time limit."}
    assert call(http, b24, "crm.lead.list", {"select": ["ID"]}).status_code == 200
    batch = call(http, b24, "batch", {"cmd": {"a": "crm.lead.add?fields[TITLE]=x", "f": "crm.lead.fields"}})
    assert batch.status_code == 200  # the batch itself is not counted, the calls inside it are
    assert batch.json()["result"]["result_error"]["a"]["error"] == "OPERATION_TIME_LIMIT"
    assert "f" in batch.json()["result"]["result"] and b24.leads == {}


def test_the_budget_is_released_as_the_oldest_time_leaves_the_window() -> None:
    budget = OperatingBudget(limit=1.0, window=0.3)
    budget.charge("crm.lead.add", time.time(), 1.5)
    assert budget.blocked("crm.lead.add") and not budget.blocked("crm.lead.list")
    assert budget.time_fields("crm.lead.add")["operating_reset_at"] <= time.time() + 1.3  # whole seconds
    time.sleep(0.35)
    assert not budget.blocked("crm.lead.add") and budget.time_fields("crm.lead.add")["operating"] == 0


# --- scripted faults --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "status", "error"), [
    ("query_limit", 503, "QUERY_LIMIT_EXCEEDED"),
    ("operation_time", 429, "OPERATION_TIME_LIMIT"),
    ("internal", 500, "INTERNAL_SERVER_ERROR"),
    ("insufficient_scope", 403, "insufficient_scope"),
    ("access_denied", 403, ""),
    ("expired", 401, "expired_token"),
    ("no_auth", 401, "NO_AUTH_FOUND"),
])
def test_json_faults_are_answered_once_then_the_call_works(b24: FakeBitrix24, http: requests.Session, kind: str,
                                                           status: int, error: str) -> None:
    b24.fail_next("crm.lead.add", kind)
    answer = call(http, b24, "crm.lead.add", {"fields": {"TITLE": "x"}})
    assert answer.status_code == status and answer.json()["error"] == error
    if kind == "access_denied":
        assert answer.json()["error_description"] == "Access denied."
    assert b24.leads == {}
    assert call(http, b24, "crm.lead.add", {"fields": {"TITLE": "x"}}).status_code == 200


def test_faults_are_per_method_in_order_and_wildcard(b24: FakeBitrix24, http: requests.Session) -> None:
    b24.fail_next("crm.lead.add", "internal", times=2)
    b24.fail_next("*", "query_limit")
    assert call(http, b24, "crm.lead.fields").status_code == 503  # "*" hits any method
    assert [call(http, b24, "crm.lead.add", {"fields": {"TITLE": "x"}}).status_code for _ in range(3)] == [
        500, 500, 200]
    with pytest.raises(ValueError):
        b24.fail_next("crm.lead.add", "bogus")


def test_bad_gateway_is_an_html_page(b24: FakeBitrix24, http: requests.Session) -> None:
    b24.fail_next("*", "bad_gateway")
    answer = call(http, b24, "crm.lead.fields")
    assert answer.status_code == 502 and answer.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        answer.json()


def test_drop_closes_the_connection_without_an_answer(b24: FakeBitrix24, http: requests.Session) -> None:
    b24.fail_next("crm.lead.add", "drop")
    with pytest.raises(requests.ConnectionError):
        call(http, b24, "crm.lead.add", {"fields": {"TITLE": "x"}})
    assert b24.leads == {} and b24.requests[0].fault == "drop" and b24.requests[0].status is None


def test_timeout_creates_the_lead_anyway(b24: FakeBitrix24, http: requests.Session) -> None:
    b24.fail_next("crm.lead.add", "timeout")
    with pytest.raises(requests.ReadTimeout):
        http.post(f"{b24.webhook_url}crm.lead.add", json={"fields": {"TITLE": "x", "ORIGINATOR_ID": "leadcaller",
                                                                     "ORIGIN_ID": "lead-77"}}, timeout=0.2)
    b24.wait_for(lambda: b24.leads)  # the lead exists although the client saw no answer
    found = call(http, b24, "crm.lead.list", {"filter": {"ORIGIN_ID": "lead-77"}, "select": ["ID"]}).json()
    assert found["total"] == 1 and found["result"][0]["ID"] == str(next(iter(b24.leads)))


def test_a_slow_request_is_carried_out_after_the_client_gave_up(http: requests.Session) -> None:
    with FakeBitrix24(slow_delay=0.8) as fake:
        fake.fail_next("crm.lead.add", "slow")
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            http.post(f"{fake.webhook_url}crm.lead.add", json={"fields": {"TITLE": "x"}}, timeout=0.2)
        assert fake.leads == {}  # still working on it: a look-up now finds nothing
        fake.wait_for(lambda: fake.leads, timeout=3)
        assert time.monotonic() - started >= 0.8


def test_moved_portal_needs_a_re_post(b24: FakeBitrix24, http: requests.Session) -> None:
    b24.fail_next("crm.lead.add", "moved")
    moved = call(http, b24, "crm.lead.add", {"fields": {"TITLE": "moved"}})
    assert moved.status_code == 302
    location = moved.headers["Location"]
    assert location == f"{b24.new_portal_url}rest/1/{b24.webhook_code}/crm.lead.add"
    again = http.post(location, json={"fields": {"TITLE": "moved"}}, allow_redirects=False, timeout=TIMEOUT)
    assert again.status_code == 200 and b24.leads[again.json()["result"]]["TITLE"] == "moved"
    assert b24.requests[-1].portal == "new"

    b24.fail_next("crm.lead.add", "moved")  # a client that blindly follows the 302 turns the POST into a GET
    blind = http.post(f"{b24.webhook_url}crm.lead.add", json={"fields": {"TITLE": "lost"}}, timeout=TIMEOUT)
    assert blind.status_code == 400 and len(b24.leads) == 1


def test_latency_is_added_to_every_request(http: requests.Session) -> None:
    with FakeBitrix24(latency=0.2) as fake:
        started = time.monotonic()
        assert call(http, fake, "crm.lead.fields").status_code == 200
        assert time.monotonic() - started >= 0.2


def test_reset_forgets_data_requests_and_faults(b24: FakeBitrix24, http: requests.Session) -> None:
    add_lead(http, b24)
    b24.add_company("Acme")
    b24.fail_next("*", "internal")
    b24.reset()
    assert (b24.leads, b24.companies, b24.comments, b24.requests) == ({}, {}, {}, [])
    assert call(http, b24, "crm.lead.fields").status_code == 200
    with pytest.raises(TimeoutError):
        b24.wait_for(lambda: False, timeout=0.05)


def test_main_prints_urls_and_credentials() -> None:
    with subprocess.Popen([sys.executable, "-m", "demo.fakes.bitrix24", "--port", "0", "--companies", "2"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(4)]
        finally:
            proc.terminate()
            proc.wait(timeout=5)
    assert lines[0].startswith("Fake Bitrix24 portal: http://127.0.0.1:")
    assert "/rest/1/" in lines[1] and "client_id=local." in lines[3]
