"""Self-tests of the VoxImplant fake: it must answer like the real Management API, or tests built on it lie.

No Django here: only the fake, `requests`, PyJWT and a tiny local receiver standing in for our callback view.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from demo.fakes.voximplant import FakeVoximplant, always, by_phone, weighted
from telephony.scenario import scenario_version

TIMEOUT = 2.0


@pytest.fixture
def vox() -> Iterator[FakeVoximplant]:
    with FakeVoximplant(rule_ids=(7, 8), timeout_delay=1.0) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # never route 127.0.0.1 through an environment proxy
        yield session


def bearer(fake: FakeVoximplant, *, key: Any = None, **overrides: Any) -> dict[str, str]:
    """A service-account JWT the way the official clients mint one; overrides change claims or the kid."""
    creds = fake.credentials_json()
    now = int(time.time())
    claims = {"iss": str(creds["account_id"]), "iat": now - 5, "exp": now + 24}
    kid = overrides.pop("kid", creds["key_id"])
    claims.update(overrides)
    # Signed as raw JWS so that claims PyJWT's encoder refuses (an integer iss, as some clients send) work too.
    token = jwt.PyJWS().encode(json.dumps(claims).encode(), key or creds["private_key"], algorithm="RS256",
                               headers={"kid": kid})
    return {"Authorization": f"Bearer {token}"}


def api(http: requests.Session, fake: FakeVoximplant, cmd: str, *, headers: dict[str, str] | None = None,
        timeout: float = TIMEOUT, **params: Any) -> requests.Response:
    """POST /platform_api with cmd in the form, as the official clients do (JWT auth unless headers given)."""
    return http.post(fake.url, data={"cmd": cmd, **params}, headers=bearer(fake) if headers is None else headers,
                     timeout=timeout)


def history_window() -> dict[str, str]:
    now = datetime.now(timezone.utc)
    fmt = "%Y-%m-%d %H:%M:%S"
    return {"from_date": (now - timedelta(minutes=5)).strftime(fmt),
            "to_date": (now + timedelta(minutes=5)).strftime(fmt)}


# --- auth ---------------------------------------------------------------------------------------------------

def test_jwt_from_the_credentials_file_is_accepted(vox: FakeVoximplant, http: requests.Session) -> None:
    answer = api(http, vox, "StartScenarios", rule_id=7)
    assert answer.status_code == 200
    assert answer.json()["result"] == 1


def test_jwt_with_integer_iss_and_hour_long_window_is_accepted(vox: FakeVoximplant, http: requests.Session) -> None:
    now = int(time.time())
    headers = bearer(vox, iss=vox.account_id, iat=now, exp=now + 3600)
    assert api(http, vox, "StartScenarios", headers=headers, rule_id=7).json()["result"] == 1


@pytest.mark.parametrize("overrides", [  # iat/exp given as offsets from now
    pytest.param({"kid": str(uuid.uuid4())}, id="wrong-kid"),
    pytest.param({"iat": -70, "exp": -10}, id="expired"),
    pytest.param({"iss": "999"}, id="wrong-iss"),
    pytest.param({"iat": 0, "exp": 3601}, id="window-over-an-hour"),
    pytest.param({"iat": 300, "exp": 320}, id="iat-in-the-future"),
])
def test_bad_jwt_is_refused_with_code_100(vox: FakeVoximplant, http: requests.Session,
                                          overrides: dict[str, Any]) -> None:
    now = int(time.time())
    claims = {k: now + v if k in ("iat", "exp") else v for k, v in overrides.items()}
    answer = api(http, vox, "StartScenarios", headers=bearer(vox, **claims), rule_id=7)
    assert answer.status_code == 200
    assert answer.json() == {"error": {"msg": "Authorization failed", "code": 100}}
    assert vox.sessions == []


def test_jwt_signed_with_another_key_is_refused(vox: FakeVoximplant, http: requests.Session) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    answer = api(http, vox, "StartScenarios", headers=bearer(vox, key=other), rule_id=7)
    assert answer.json()["error"]["code"] == 100


def test_no_auth_is_refused_and_error_status_is_configurable(vox: FakeVoximplant, http: requests.Session) -> None:
    assert api(http, vox, "StartScenarios", headers={}, rule_id=7).json()["error"]["code"] == 100
    vox.error_status = 401
    assert api(http, vox, "StartScenarios", headers={}, rule_id=7).status_code == 401


def test_legacy_account_id_and_api_key(vox: FakeVoximplant, http: requests.Session) -> None:
    legacy = {"account_id": vox.account_id, "api_key": vox.api_key}
    assert api(http, vox, "StartScenarios", headers={}, rule_id=7, **legacy).json()["result"] == 1
    legacy["api_key"] = "nope"
    assert api(http, vox, "StartScenarios", headers={}, rule_id=7, **legacy).json()["error"]["code"] == 100


def test_credentials_file_has_the_service_account_shape(vox: FakeVoximplant, tmp_path: Any) -> None:
    written = json.loads(vox.write_credentials(tmp_path / "var" / "vox.json").read_text())
    assert set(written) == {"account_id", "key_id", "private_key", "account_email"}
    assert written["account_id"] == vox.account_id and written["private_key"].startswith("-----BEGIN PRIVATE KEY")


# --- StartScenarios and command errors ---------------------------------------------------------------------

def test_start_scenarios_success_shape_and_increasing_ids(vox: FakeVoximplant, http: requests.Session) -> None:
    first = api(http, vox, "StartScenarios", rule_id=7, script_custom_data='{"attempt_id":1}').json()
    second = api(http, vox, "StartScenarios", rule_id=8).json()
    assert set(first) == {"result", "media_session_access_url", "media_session_access_secure_url",
                          "call_session_history_id"}
    assert first["media_session_access_url"].startswith(f"http://127.0.0.1:{vox.port}/media/")
    assert first["media_session_access_secure_url"].startswith("https://")
    assert second["call_session_history_id"] > first["call_session_history_id"]
    session = vox.session(first["call_session_history_id"])
    assert (session.rule_id, session.custom_data, session.data) == (7, '{"attempt_id":1}', {"attempt_id": 1})
    # The access URL reaches the fake and is recorded on the session (AppEvents.HttpRequest).
    assert http.post(first["media_session_access_url"], json={"stop": True}, timeout=TIMEOUT).status_code == 200
    assert session.media_requests == [("POST", b'{"stop": true}')]


def test_path_style_get_with_query_params(vox: FakeVoximplant, http: requests.Session) -> None:
    answer = http.get(f"{vox.url}/StartScenarios/", params={"rule_id": 7}, headers=bearer(vox), timeout=TIMEOUT)
    assert answer.json()["result"] == 1
    assert vox.requests[-1].cmd == "StartScenarios" and vox.requests[-1].method == "GET"


@pytest.mark.parametrize(("params", "code", "msg"), [
    pytest.param({"cmd": "StartScenarios"}, 101, "Invalid arguments", id="missing-rule"),
    pytest.param({"cmd": "StartScenarios", "rule_id": 99}, 101, "Invalid arguments", id="unknown-rule"),
    pytest.param({}, 102, "Missing 'cmd' parameter", id="missing-cmd"),
    pytest.param({"cmd": "DelAccount"}, 103, "Unknown command", id="unknown-cmd"),
])
def test_command_errors(vox: FakeVoximplant, http: requests.Session, params: dict[str, Any], code: int,
                        msg: str) -> None:
    answer = http.post(vox.url, data=params, headers=bearer(vox), timeout=TIMEOUT)
    assert answer.json() == {"error": {"msg": msg, "code": code}}


def test_rule_name_is_accepted_instead_of_rule_id(vox: FakeVoximplant, http: requests.Session) -> None:
    answer = api(http, vox, "StartScenarios", rule_name="rule-8").json()
    assert vox.session(answer["call_session_history_id"]).rule_id == 8


# --- scripted faults ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "error"), [
    ("auth", {"msg": "Authorization failed", "code": 100}),
    ("invalid", {"msg": "Invalid arguments", "code": 101}),
    ("internal", {"msg": "Internal error", "code": 2}),
])
def test_error_faults_are_consumed_in_order(vox: FakeVoximplant, http: requests.Session, kind: str,
                                            error: dict[str, Any]) -> None:
    vox.fail_next("StartScenarios", kind, times=2)
    assert [api(http, vox, "StartScenarios", rule_id=7).json() for _ in range(2)] == [{"error": error}] * 2
    assert api(http, vox, "StartScenarios", rule_id=7).json()["result"] == 1
    assert len(vox.sessions) == 1


def test_http_faults_and_faults_are_per_command(vox: FakeVoximplant, http: requests.Session) -> None:
    vox.fail_next("StartScenarios", "http429")
    vox.fail_next("StartScenarios", "http5xx")
    assert api(http, vox, "GetCallHistory", **history_window()).status_code == 200  # other cmd: untouched
    too_many = api(http, vox, "StartScenarios", rule_id=7)
    assert too_many.status_code == 429
    gateway = api(http, vox, "StartScenarios", rule_id=7)
    assert gateway.status_code == 502 and gateway.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        gateway.json()
    assert vox.sessions == []


def test_drop_closes_the_connection_without_starting(vox: FakeVoximplant, http: requests.Session) -> None:
    vox.fail_next("StartScenarios", "drop")
    with pytest.raises(requests.ConnectionError):
        api(http, vox, "StartScenarios", rule_id=7)
    assert vox.sessions == [] and vox.requests[-1].cmd == "StartScenarios"


def test_timeout_fault_starts_the_session_but_answers_too_late(vox: FakeVoximplant, http: requests.Session) -> None:
    vox.fail_next("StartScenarios", "timeout")
    custom = '{"attempt_id":42,"token":"t"}'
    with pytest.raises(requests.ReadTimeout):
        api(http, vox, "StartScenarios", rule_id=7, script_custom_data=custom, timeout=0.2)
    # Exactly the case where a naive retry dials twice: the history shows the session that did start.
    found = api(http, vox, "GetCallHistory", call_session_history_custom_data=custom, **history_window()).json()
    assert found["total_count"] == 1 and found["result"][0]["custom_data"] == custom


def test_latency_delays_every_answer(vox: FakeVoximplant, http: requests.Session) -> None:
    vox.latency = 0.3
    with pytest.raises(requests.ReadTimeout):
        api(http, vox, "GetCallHistory", timeout=0.1, **history_window())


# --- GetCallHistory -----------------------------------------------------------------------------------------

def test_get_call_history_filters_and_calls(vox: FakeVoximplant, http: requests.Session) -> None:
    ids = [api(http, vox, "StartScenarios", rule_id=7, script_custom_data=f'{{"attempt_id":{n},"phone":"+7900"}}')
           .json()["call_session_history_id"] for n in range(3)]
    vox.set_call(ids[1], successful=True, duration=12)
    window = history_window()

    everything = api(http, vox, "GetCallHistory", **window).json()
    assert (everything["total_count"], everything["count"], everything["timezone"]) == (3, 3, "Etc/GMT")
    assert "calls" not in everything["result"][0]

    by_id = api(http, vox, "GetCallHistory", call_session_history_id=f"{ids[0]};{ids[1]}", with_calls="true",
                **window).json()["result"]
    assert [s["call_session_history_id"] for s in by_id] == ids[:2]
    info = by_id[1]
    assert {"account_id", "application_id", "rule_name", "start_date", "duration", "finish_reason",
            "custom_data"} <= set(info)
    assert (info["duration"], info["finish_reason"]) == (12, "Normal termination")
    assert len(info["calls"]) == 1
    assert {k: info["calls"][0][k] for k in ("successful", "duration", "remote_number")} == {
        "successful": True, "duration": 12, "remote_number": "+7900"}
    assert by_id[0]["calls"] == []  # started, no call yet

    by_data = api(http, vox, "GetCallHistory", call_session_history_custom_data='{"attempt_id":2,"phone":"+7900"}',
                  **window).json()
    assert [s["call_session_history_id"] for s in by_data["result"]] == [ids[2]]

    page = api(http, vox, "GetCallHistory", count=1, offset=1, **window).json()
    assert (page["total_count"], page["count"], page["result"][0]["call_session_history_id"]) == (3, 1, ids[1])

    past = {"from_date": "2020-01-01 00:00:00", "to_date": "2020-01-02 00:00:00"}
    assert api(http, vox, "GetCallHistory", **past).json()["total_count"] == 0
    assert api(http, vox, "GetCallHistory", from_date="yesterday").json()["error"]["code"] == 101


# --- scenario simulator -------------------------------------------------------------------------------------

class Receiver:
    """Stands in for our callback view: records requests, answers `status`."""

    def __init__(self) -> None:
        self.hits: list[tuple[str, str, bytes]] = []
        self.status = 200
        self.answer = b"{}"  # what the callback answers (the settings, to a GET)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.hits.append((self.command, self.path, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(receiver.answer)))
                self.end_headers()
                self.wfile.write(receiver.answer)

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/telephony/voximplant/callback/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def posts(self) -> list[dict[str, Any]]:
        return [json.loads(body) for method, _, body in self.hits if method == "POST"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def start_simulated(http: requests.Session, policy: Any, receiver: Receiver, phone: str = "+79001234567",
                    **options: Any) -> tuple[FakeVoximplant, int]:
    fake = FakeVoximplant(simulate=policy, **options).start()
    custom = json.dumps({"attempt_id": 5, "token": "tok", "callback_url": receiver.url, "phone": phone})
    sid = api(http, fake, "StartScenarios", rule_id=1, script_custom_data=custom).json()["call_session_history_id"]
    assert fake.wait_idle(timeout=5.0)
    return fake, sid


def test_simulator_posts_the_result_once(http: requests.Session, receiver: Receiver) -> None:
    fake, sid = start_simulated(http, always("busy"), receiver, fetch_settings=True)
    try:
        settings, callback = receiver.hits
        assert settings[0] == "GET" and "attempt_id=5" in settings[1] and "token=tok" in settings[1]
        assert receiver.posts() == [{"attempt_id": 5, "token": "tok", "result": "busy", "duration": 0, "digits": "",
                                     "call_session_history_id": sid, "detail": "486 Busy Here",
                                     "scenario_version": scenario_version(), "version_mismatch": False}]
        assert [(d.method, d.status) for d in fake.deliveries] == [("GET", 200), ("POST", 200)]
        call = fake.session(sid).calls[0]
        assert call["successful"] is False and call["end_reason"]["code"] == 486
    finally:
        fake.stop()


@pytest.mark.parametrize(("expected", "reported", "mismatch"), [(3, 3, False), (4, 3, True)])
def test_simulator_reports_its_version_and_a_mismatch_with_the_settings(
        http: requests.Session, receiver: Receiver, expected: int, reported: int, mismatch: bool) -> None:
    # leadcaller.js's buildPayload: its own SCENARIO_VERSION, and whether the settings answer expected another.
    receiver.answer = json.dumps({"scenario_version": expected}).encode()
    fake, _sid = start_simulated(http, always("human", duration=12), receiver, fetch_settings=True,
                                 scenario_version=reported)
    try:
        [post] = receiver.posts()
        assert (post["scenario_version"], post["version_mismatch"]) == (reported, mismatch)
    finally:
        fake.stop()


def test_simulator_duplicate_delivery_and_recorded_status(http: requests.Session, receiver: Receiver) -> None:
    receiver.status = 403
    fake, sid = start_simulated(http, always("human", deliver="twice", duration=30), receiver)
    try:
        assert [p["result"] for p in receiver.posts()] == ["human", "human"]
        assert [d.status for d in fake.deliveries] == [403, 403]
    finally:
        fake.stop()


def test_simulator_never_delivers_but_history_shows_the_call(http: requests.Session, receiver: Receiver) -> None:
    fake, sid = start_simulated(http, always("human", deliver="never", duration=20), receiver)
    try:
        assert receiver.hits == [] and fake.deliveries == []
        session = fake.session(sid)
        assert session.calls[0]["successful"] is True and session.duration == 20  # what reconciliation finds
    finally:
        fake.stop()


def test_simulator_late_delivery(http: requests.Session, receiver: Receiver) -> None:
    fake, sid = start_simulated(http, always("voicemail", deliver="late", late_after=0.2), receiver)
    try:
        assert [p["result"] for p in receiver.posts()] == ["voicemail"]
        assert fake.deliveries[0].at - fake.requests[0].received >= 0.2
    finally:
        fake.stop()


def test_by_phone_and_weighted_policies() -> None:
    policy = by_phone({"+79000000000": "failed", "7": {"result": "no_answer", "detail": "480 Unavailable"}}, "human")
    assert policy({"phone": "+79000000000"})["result"] == "failed"
    assert policy({"phone": "+79001234567"})["detail"] == "480 Unavailable"
    assert policy({"phone": "+79001234561"})["result"] == "human"
    assert policy({})["result"] == "human"
    picks = [weighted(seed=3, time_scale=0.01)({}) for _ in range(2)]
    assert picks[0] == picks[1]  # same seed, same call
    mix = weighted(seed=1, time_scale=0.5)
    outcomes = [mix({}) for _ in range(400)]
    share = sum(o["result"] == "human" for o in outcomes) / len(outcomes)
    assert 0.45 < share < 0.65
    assert all(1.0 <= o["delay"] <= 12.5 for o in outcomes)
