"""A local fake of the VoxImplant Management API, plus a VoxEngine scenario simulator.

It answers the way the real service does (see ``reference/external-apis.md`` section 2 and 4(b)):
``POST /platform_api`` with ``cmd=...`` or ``/platform_api/<Cmd>/``, JWT (RS256, service account) or legacy
``account_id`` + ``api_key`` auth, ``{"error": {"msg", "code"}}`` envelopes, StartScenarios and GetCallHistory,
and the account's set-up (applications, scenarios, rules, phone numbers, caller IDs: ``voximplant_account.py``).
Tests script faults (429, 5xx HTML, slow answer after the session started, dropped connection) with
``fail_next``; the simulator plays our scenario's part and POSTs the result webhook.

Standard library HTTP server only, so it runs without Django::

    with FakeVoximplant(simulate=always("human")) as vox:
        vox.write_credentials(tmp_path / "vox.json")
        ...  # point VOXIMPLANT_API_URL at vox.url

Demo (foreground, prints its URL)::

    python -m demo.fakes.voximplant --port 8101 --credentials var/voximplant-credentials.json --simulate weighted
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from demo.fakes.base import LocalHttpFake, _Handler
from demo.fakes.voximplant_account import Account, ApiError
from demo.fakes.voximplant_sms import SmsCenter
from telephony.scenario import scenario_version as checkout_scenario_version

__all__ = [
    "FAULT_KINDS", "RESULTS", "Delivery", "FakeVoximplant", "Outcome", "Policy", "RecordedRequest", "Session",
    "always", "by_phone", "weighted",
]

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # GetCallHistory dates, UTC
FAULT_KINDS = ("auth", "invalid", "internal", "http429", "http5xx", "timeout", "drop")
RESULTS = ("human", "voicemail", "no_answer", "busy", "failed", "opted_out", "connected", "seller_missed")  # the callback's `result` (DESIGN.md)
DELIVER_MODES = ("once", "twice", "never", "late")

Outcome = dict[str, Any]  # keys: result, duration, digits, detail; optional delay, deliver, late_after
Policy = Callable[[Mapping[str, Any]], Outcome]

_BAD_GATEWAY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the query string
    cmd: str | None
    params: dict[str, str]  # query and form fields merged (form wins)
    headers: dict[str, str]
    received: float  # time.monotonic()


@dataclass
class Session:
    """One started scenario session, as GetCallHistory reports it."""

    id: int
    rule_id: int
    rule_name: str
    application_id: int
    application_name: str
    custom_data: str | None
    started_at: datetime  # UTC, whole seconds (the API's resolution)
    media_token: str
    data: dict[str, Any] = field(default_factory=dict)  # custom_data parsed as a JSON object, else {}
    duration: int = 0
    finish_reason: str | None = None  # None while running
    calls: list[dict[str, Any]] = field(default_factory=list)
    media_requests: list[tuple[str, bytes]] = field(default_factory=list)  # (method, body) sent to the access URL


@dataclass(frozen=True)
class Delivery:
    """One HTTP request the simulated scenario made to our server."""

    session_id: int
    method: str  # "GET" = settings fetch, "POST" = result callback
    url: str
    payload: dict[str, Any] | None
    status: int | None  # what our server answered; None when no HTTP answer came
    error: str | None
    response: str
    at: float  # time.monotonic()


# --- policies: what the simulated call ends with -------------------------------------------------------------

_DEFAULT_OUTCOMES: dict[str, Outcome] = {
    "human": {"duration": 15, "detail": "AMD HUMAN"},
    "voicemail": {"duration": 8, "detail": "AMD VOICEMAIL"},
    "no_answer": {"duration": 0, "detail": "408 Request Timeout"},
    "busy": {"duration": 0, "detail": "486 Busy Here"},
    "failed": {"duration": 0, "detail": "404 Not Found"},
    "opted_out": {"duration": 9, "digits": "9", "detail": "AMD HUMAN"},  # the person pressed the opt-out key
}


def _outcome(result: str, /, **overrides: Any) -> Outcome:
    return {"result": result, "digits": "", **_DEFAULT_OUTCOMES.get(result, {"duration": 0, "detail": ""}), **overrides}


def always(result: str, **overrides: Any) -> Policy:
    """Every call ends with ``result``; ``overrides`` set duration/digits/detail/delay/deliver/late_after."""
    return lambda data: _outcome(result, **overrides)


def by_phone(mapping: Mapping[str, str | Outcome], default: str | Outcome = "human") -> Policy:
    """Choose by the exact ``phone`` in custom data, else by its last digit (keys like ``"7"``), else ``default``.
    Values are a result name or a full/partial outcome dict with a ``result`` key."""
    def pick(value: str | Outcome) -> Outcome:
        return _outcome(value) if isinstance(value, str) else _outcome(value.get("result", "human"), **value)

    def policy(data: Mapping[str, Any]) -> Outcome:
        phone = str(data.get("phone") or "")
        if phone in mapping:
            return pick(mapping[phone])
        return pick(mapping.get(phone[-1:], default) if phone else default)
    return policy


DEMO_MIX = {"human": 0.55, "voicemail": 0.15, "no_answer": 0.20, "busy": 0.10}
_DEMO_DELAYS = {"human": (8.0, 25.0), "voicemail": (6.0, 20.0), "no_answer": (18.0, 25.0), "busy": (2.0, 6.0)}


def weighted(weights: Mapping[str, float] | None = None, *, seed: int | None = 0, time_scale: float = 1.0) -> Policy:
    """Random outcomes for a demo: a seeded mix (default 55% human, 15% voicemail, 20% no answer, 10% busy) with
    realistic 2-25 s delays (busy fails fast, no-answer rings long) multiplied by ``time_scale``."""
    weights = dict(weights or DEMO_MIX)
    rng, lock = random.Random(seed), threading.Lock()  # one policy is called from many simulator threads

    def policy(data: Mapping[str, Any]) -> Outcome:
        with lock:
            result = rng.choices(list(weights), list(weights.values()))[0]
            delay = rng.uniform(*_DEMO_DELAYS.get(result, (2.0, 25.0)))
            duration = {"human": rng.randint(5, 90), "voicemail": rng.randint(3, 25)}.get(result, 0)
        return _outcome(result, duration=duration, delay=delay * time_scale)
    return policy


# --- the fake ---------------------------------------------------------------------------------------------


class FakeVoximplant(LocalHttpFake):
    """The fake service. Thread-safe; start()/stop() or use as a context manager."""

    name = "fake-voximplant"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        account_id: int = 1000001,
        api_key: str | None = None,
        rule_ids: Iterable[int] = (1,),  # rules made by hand before the test (none: a fresh account)
        account_name: str = "fake",
        simulate: bool | Policy = False,
        callback_url: str | None = None,  # used when custom data carries no callback_url
        fetch_settings: bool = False,  # simulator GETs callback_url?attempt_id&token first
        scenario_delay: float = 0.0,  # simulator wait before the callback, unless the outcome sets `delay`
        callback_timeout: float = 5.0,
        timeout_delay: float = 2.0,  # how long a `timeout` fault holds the answer
        error_status: int = 200,  # HTTP status sent with {"error": ...}; the real one is unconfirmed
        latency: float = 0.0,
        verbose: bool = False,
        private_key_pem: str | None = None,  # the service account's key (a fresh one when omitted)
        key_id: str | None = None,
        scenario_version: int | None = None,  # the SCENARIO_VERSION the simulated upload reports (this checkout's)
    ) -> None:
        self.host, self.port = host, port
        self.account_id = account_id
        self.account_email = f"fake-{account_id}@example.com"
        self.api_key = api_key or secrets.token_hex(16)
        self.key_id = key_id or str(uuid.uuid4())
        self._private_key = (serialization.load_pem_private_key(private_key_pem.encode(), password=None)
                             if private_key_pem else rsa.generate_private_key(public_exponent=65537, key_size=2048))
        self.account = Account(account_id=account_id, name=account_name)
        self.sms = SmsCenter()  # A2P messages (demo/fakes/voximplant_sms.py)
        for rule_id in rule_ids:
            self.seed_rule(rule_id)
        self.policy: Policy | None = always("human") if simulate is True else (simulate or None)
        self.callback_url, self.fetch_settings = callback_url, fetch_settings
        self.scenario_delay, self.callback_timeout = scenario_delay, callback_timeout
        self.callback_headers: dict[str, str] = {}
        self.timeout_delay, self.error_status = timeout_delay, error_status
        self.latency, self.verbose = latency, verbose
        self.scenario_version = scenario_version or checkout_scenario_version()

        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._sessions: dict[int, Session] = {}
        self._deliveries: list[Delivery] = []
        self._faults: dict[str, deque[str]] = defaultdict(deque)
        self._ids = itertools.count(2_000_000_001)  # call_session_history_id: increasing
        self._call_ids = itertools.count(3_000_000_001)
        self._threads: list[threading.Thread] = []
        super().__init__()
        # No proxies from the environment: the simulator talks to a local server.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # lifecycle -------------------------------------------------------------------------------------------

    def stop(self) -> None:
        super().stop()
        self.wait_idle(timeout=2.0)  # let simulator threads finish their posts


    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeVoximplant is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL of the management API (what VOXIMPLANT_API_URL points at)."""
        return f"{self.base_url}/platform_api"

    # credentials -----------------------------------------------------------------------------------------
    def credentials_json(self) -> dict[str, Any]:
        """The service-account key file, shaped like the one the control panel downloads."""
        pem = self._private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode()
        return {"account_id": self.account_id, "key_id": self.key_id, "private_key": pem,
                "account_email": self.account_email}

    def write_credentials(self, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.credentials_json(), indent=2))
        path.chmod(0o600)  # it holds a private key
        return path

    # test controls and inspection -------------------------------------------------------------------------
    def fail_next(self, cmd: str, kind: str, times: int = 1) -> None:
        """Answer the next ``times`` requests for ``cmd`` (``"*"`` = any command) with fault ``kind``.
        ``timeout`` runs the command (the session DOES start) but holds the answer ``timeout_delay`` seconds;
        ``drop`` closes the connection before the command runs."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {FAULT_KINDS}")
        with self._lock:
            self._faults[cmd].extend([kind] * times)

    def seed_rule(self, rule_id: int) -> None:
        """A rule `rule-<id>` made by hand in application `leadcaller`, running a scenario."""
        self.account.seed_rule(rule_id, application_name=f"leadcaller.{self.account.name}.voximplant.com")

    @property
    def rule_ids(self) -> frozenset[int]:
        return frozenset(self.account.rules)

    def set_call(self, session_id: int, *, successful: bool, duration: int = 0, remote_number: str | None = None,
                 end_reason: Any = None, record_url: str | None = None) -> None:
        """Give a session its (single) call and finish it, as GetCallHistory will then report it."""
        with self._lock:
            s = self._sessions[session_id]
            s.calls = [{
                "call_id": next(self._call_ids), "start_time": s.started_at.strftime(DATE_FORMAT),
                "duration": duration, "local_number": str(s.data.get("caller_id") or "74950000000"),
                "remote_number": remote_number or str(s.data.get("phone") or ""), "remote_number_type": "pstn",
                "incoming": False, "successful": successful, "transaction_id": next(self._call_ids),
                "record_url": record_url, "media_server_address": self.host, "cost": round(duration / 60 * 0.02, 4),
                "custom_data": None, "end_reason": end_reason, "diversion_number": None,
            }]
            s.duration, s.finish_reason = duration, "Normal termination"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far (management API and media URLs)."""
        with self._lock:
            return list(self._requests)

    @property
    def sessions(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())

    def session(self, session_id: int) -> Session:
        with self._lock:
            return self._sessions[session_id]

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def reset(self) -> None:
        """Forget requests, sessions, deliveries and pending faults (keeps keys, rules and settings)."""
        self.wait_idle(timeout=2.0)
        with self._lock:
            self._requests.clear()
            self._sessions.clear()
            self._deliveries.clear()
            self._faults.clear()


    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every simulated scenario has finished; True if they all did."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    # HTTP ------------------------------------------------------------------------------------------------
    def _handle(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0)) if h.command == "POST" else b""
        if h.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        path = split.path
        if path.rstrip("/") == "/platform_api":
            cmd: str | None = params.get("cmd") or None
        elif path.startswith("/platform_api/"):
            cmd = path[len("/platform_api/"):].strip("/") or None
        elif path.startswith("/media/"):
            return self._media(h, path, body)
        else:
            return self._send(h, 404, b"Not Found", "text/plain")
        with self._lock:
            self._requests.append(RecordedRequest(h.command, path, cmd, params, dict(h.headers.items()),
                                                  time.monotonic()))
            queue = self._faults.get(cmd or "") or self._faults.get("*")
            fault = queue.popleft() if queue else None
        if self.latency:
            self._stopping.wait(self.latency)

        if fault == "drop":
            h.close_connection = True  # nothing written: the client sees the connection closed
            return
        if fault == "http429":  # the concurrency limit (200 simultaneous StartScenarios)
            return self._send(h, 429, b"429 Too Many Requests", "text/plain")
        if fault == "http5xx":
            return self._send(h, 502, _BAD_GATEWAY, "text/html")
        scripted = {"auth": (100, "Authorization failed"), "invalid": (101, "Invalid arguments"),
                    "internal": (2, "Internal error")}.get(fault or "")
        if scripted:
            status, answer = self._error(*scripted)
        elif cmd is None:
            status, answer = self._error(102, "Missing 'cmd' parameter")
        elif cmd not in self._commands and cmd not in Account.COMMANDS:
            status, answer = self._error(103, "Unknown command")
        elif not self._authorized(h.headers.get("Authorization", ""), params):
            status, answer = self._error(100, "Authorization failed")
        elif cmd in Account.COMMANDS:
            status, answer = self._manage(cmd, params)
        else:
            status, answer = self._commands[cmd](self, params)
        if fault == "timeout":
            self._stopping.wait(self.timeout_delay)  # the work is done; only the answer is late
        self._send(h, status, json.dumps(answer).encode(), "application/json; charset=utf-8")

    @staticmethod
    def _send(h: _Handler, status: int, body: bytes, content_type: str) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): that is the scenario being tested

    def _error(self, code: int, msg: str) -> tuple[int, dict[str, Any]]:
        return self.error_status, {"error": {"msg": msg, "code": code}}

    def _media(self, h: _Handler, path: str, body: bytes) -> None:
        token = path[len("/media/"):].strip("/")
        with self._lock:
            session = next((s for s in self._sessions.values() if s.media_token == token), None)
            if session is not None:
                session.media_requests.append((h.command, body))
        self._send(h, 200 if session else 404, b"" if session else b"Not Found", "text/plain")

    def _authorized(self, authorization: str, params: Mapping[str, str]) -> bool:
        if authorization[:7].lower() == "bearer ":
            return self._jwt_valid(authorization[7:].strip())
        account_ok = params.get("account_id") == str(self.account_id) or (
            params.get("account_email") == self.account_email)
        return account_ok and secrets.compare_digest(params.get("api_key", ""), self.api_key)

    def _jwt_valid(self, token: str) -> bool:
        try:
            if jwt.get_unverified_header(token).get("kid") != self.key_id:
                return False
            # Signature checked by PyJWT; the time window checked below with the service's own rules.
            claims = jwt.decode(token, self._private_key.public_key(), algorithms=["RS256"], options={
                "verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_iss": False,
                "verify_aud": False, "require": ["iss", "iat", "exp"]})
        except jwt.PyJWTError:
            return False
        iat, exp, now = claims["iat"], claims["exp"], time.time()
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (iat, exp)):
            return False
        return str(claims["iss"]) == str(self.account_id) and exp - iat <= 3600 and exp >= now and iat <= now + 60

    # commands --------------------------------------------------------------------------------------------
    def _manage(self, cmd: str, params: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            try:
                return 200, self.account.handle(cmd, params)
            except ApiError as exc:
                return self._error(exc.code, exc.msg)

    def _start_scenarios(self, params: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        # The rule must exist in the account: "the necessary scenario needs to be attached to the rule"
        # (StartScenariosRequest.ruleId, apiclient-nodejs src/Interfaces.ts).
        raw_id, rule_name = params.get("rule_id"), params.get("rule_name")
        with self._lock:
            rules = self.account.rules
            rule = (rules.get(int(raw_id)) if raw_id and raw_id.isdigit()
                    else next((r for r in rules.values() if rule_name and r.name == rule_name), None))
            app = self.account.applications[rule.application_id] if rule else None
        if rule is None or app is None:  # code unconfirmed: the reference names none for an unknown rule
            return self._error(101, "Invalid arguments")
        custom_data = params.get("script_custom_data")
        try:
            data = json.loads(custom_data or "")
        except ValueError:
            data = None
        with self._lock:
            session_id = next(self._ids)
        session = Session(
            id=session_id, rule_id=rule.id, rule_name=rule.name, application_id=app.id, application_name=app.name,
            custom_data=custom_data, started_at=datetime.now(timezone.utc).replace(microsecond=0),
            media_token=f"{secrets.token_hex(16)}/{secrets.token_hex(16)}",
            data=data if isinstance(data, dict) else {})
        with self._lock:
            self._sessions[session.id] = session
        if self.policy is not None:
            t = threading.Thread(target=self._simulate, args=(session, self.policy),
                                 name=f"fake-voxengine:{session.id}", daemon=True)
            with self._lock:
                self._threads.append(t)
            t.start()
        media = f"{self.host}:{self.port}/media/{session.media_token}"
        return 200, {"result": 1, "media_session_access_url": f"http://{media}",
                     "media_session_access_secure_url": f"https://{media}",  # not served: the fake is plain HTTP
                     "call_session_history_id": session.id}

    def _get_call_history(self, params: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            since = datetime.strptime(params["from_date"], DATE_FORMAT).replace(tzinfo=timezone.utc)
            until = datetime.strptime(params["to_date"], DATE_FORMAT).replace(tzinfo=timezone.utc)
            ids = {int(x) for x in params.get("call_session_history_id", "").split(";") if x.strip()}
            count = min(int(params.get("count", 20)), 1000)
            offset = int(params.get("offset", 0))
        except (KeyError, ValueError):
            return self._error(101, "Invalid arguments")
        flag = lambda name: params.get(name, "").lower() in ("true", "1")  # noqa: E731
        custom = params.get("call_session_history_custom_data")
        with self._lock:
            found = [s for s in self._sessions.values()
                     if since <= s.started_at <= until and (not ids or s.id in ids)
                     and (custom is None or s.custom_data == custom)]
            found.sort(key=lambda s: s.id, reverse=flag("desc_order"))
            page = [self._session_info(s, flag("with_calls")) for s in found[offset:offset + count]]
        return 200, {"result": page, "total_count": len(found), "count": len(page), "timezone": "Etc/GMT"}

    def _session_info(self, s: Session, with_calls: bool) -> dict[str, Any]:
        info: dict[str, Any] = {
            "call_session_history_id": s.id, "account_id": self.account_id, "application_id": s.application_id,
            "application_name": s.application_name, "rule_name": s.rule_name,
            "start_date": s.started_at.strftime(DATE_FORMAT), "duration": s.duration,
            "finish_reason": s.finish_reason, "custom_data": s.custom_data, "initiator_address": self.host,
            "media_server_address": self.host,
        }
        if with_calls:
            info["calls"] = [dict(c) for c in s.calls]
        return info

    def _sms(self, method: str, params: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            try:
                return 200, getattr(self.sms, method)(params)
            except ApiError as exc:
                return self._error(exc.code, exc.msg)

    _commands: dict[str, Callable[[FakeVoximplant, Mapping[str, str]], tuple[int, dict[str, Any]]]] = {
        "StartScenarios": _start_scenarios,
        "GetCallHistory": _get_call_history,
        "A2PSendSms": lambda self, params: self._sms("send", params),
        "A2PGetSmsHistory": lambda self, params: self._sms("history", params),
    }

    # scenario simulator: what our VoxEngine script does inside VoxImplant ---------------------------------
    def _simulate(self, session: Session, policy: Policy) -> None:
        data = session.data
        url = str(data.get("callback_url") or self.callback_url or "")
        ident = {"attempt_id": data.get("attempt_id"), "token": data.get("token")}
        if not url:
            return self._record(session.id, "POST", "", None, None, "no callback_url in custom data or fake", "")
        settings: dict[str, Any] = {}
        if self.fetch_settings:
            sep = "&" if urlsplit(url).query else "?"
            status, text = self._http(session.id, "GET", f"{url}{sep}{urlencode({k: v or '' for k, v in ident.items()})}",
                                      None)
            settings = _json_object(text) if status == 200 else {}
        try:
            outcome = policy(data)
            deliver = outcome.get("deliver", "once")
            if deliver not in DELIVER_MODES:
                raise ValueError(f"unknown deliver mode {deliver!r}")
        except Exception as exc:  # a broken policy is reported, not raised in a background thread
            return self._record(session.id, "POST", url, None, None, f"policy error: {exc!r}", "")
        if self._stopping.wait(float(outcome.get("delay", self.scenario_delay))):
            return
        # The call is over before the scenario reports, so GetCallHistory already shows it.
        result, duration = outcome["result"], int(outcome.get("duration", 0))
        code = re.match(r"\d+", str(outcome.get("detail", "")))
        self.set_call(session.id, successful=result in ("human", "voicemail", "opted_out"), duration=duration,
                      end_reason={"code": int(code.group()), "reason": outcome.get("detail")} if code else None)
        # As leadcaller.js's buildPayload: its own version, and whether the settings answer expected another.
        expected = settings.get("scenario_version")
        payload = {**ident, "result": result, "duration": duration, "digits": outcome.get("digits", ""),
                   "call_session_history_id": session.id, "detail": outcome.get("detail", ""),
                   "scenario_version": self.scenario_version,
                   "version_mismatch": isinstance(expected, int) and expected != self.scenario_version}
        if result == "human" and settings.get("call_mode") in ("offer", "seller_first") and settings.get("sellers_url"):
            payload.update(self._seller_on_the_line(session, settings, ident, duration))
        if deliver == "late" and self._stopping.wait(float(outcome.get("late_after", 2.0))):
            return
        for _ in range({"never": 0, "twice": 2}.get(deliver, 1)):
            self._http(session.id, "POST", url, payload)

    def _seller_on_the_line(self, session: Session, settings: Mapping[str, Any], ident: dict[str, Any],
                            duration: int) -> dict[str, Any]:
        """Both parties of leadcaller.js's seller branch: the lead presses the connect key (offer mode), the
        scenario asks the server for a seller, the seller presses the key and talks. Nobody free: seller_missed."""
        digit = str(settings.get("connect_digit") or "1")
        status, text = self._http(session.id, "POST", str(settings["sellers_url"]), {**ident, "missed": []})
        sellers = _json_object(text).get("sellers") if status == 200 else None
        if not sellers:
            return {"result": "seller_missed", "digits": digit, "detail": "no seller took the call"}
        talk = max(5, duration - 5)
        fields = {"result": "connected", "digits": digit, "seller_id": sellers[0]["id"], "talk_time": talk,
                  "detail": "the lead hung up"}
        if settings.get("record_calls"):
            fields["recording_url"] = f"{self.base_url}/records/{session.id}.mp3"
        return fields

    def _http(self, session_id: int, method: str, url: str, payload: dict[str, Any] | None) -> tuple[int | None, str]:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"User-Agent": "VoxEngine/1.0", **self.callback_headers}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.callback_timeout) as resp:
                status, error, text = resp.status, None, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:  # 4xx/5xx: still an answer from our server
            try:
                status, error, text = exc.code, None, exc.read().decode("utf-8", "replace")
            finally:
                exc.close()
        except (urllib.error.URLError, OSError) as exc:
            status, error, text = None, str(exc), ""
        self._record(session_id, method, url, payload, status, error, text)
        return status, text

    def _record(self, session_id: int, method: str, url: str, payload: dict[str, Any] | None,
                status: int | None, error: str | None, response: str) -> None:
        with self._lock:
            self._deliveries.append(Delivery(session_id, method, url, payload, status, error, response,
                                             time.monotonic()))
        if self.verbose:  # the demo shows what the "scenario" did and what our server answered
            result = (payload or {}).get("result", "")
            print(f"scenario {session_id}: {method} {url} {result} -> {status or error}", file=sys.stderr, flush=True)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local fake of the VoxImplant Management API (demo/tests).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--credentials", default="var/voximplant-credentials.json", help="where to write the key file")
    parser.add_argument("--account-id", type=int, default=1000001)
    parser.add_argument("--api-key", default=None, help="legacy api_key (random when omitted)")
    parser.add_argument("--rule-id", type=int, action="append", help="accepted rule ids (default: 1)")
    parser.add_argument("--simulate", default="weighted", help=f"off, weighted or one result: {', '.join(RESULTS)}")
    parser.add_argument("--time-scale", type=float, default=1.0, help="multiplies the simulated call delays")
    parser.add_argument("--seed", type=int, default=None, help="seed for --simulate weighted")
    parser.add_argument("--callback-url", default=None, help="used when custom data has no callback_url")
    parser.add_argument("--fetch-settings", action="store_true", help="GET callback_url before calling")
    args = parser.parse_args(argv)

    policy: Policy | None = None
    if args.simulate == "weighted":
        policy = weighted(seed=args.seed, time_scale=args.time_scale)
    elif args.simulate != "off":
        policy = always(args.simulate)
    fake = FakeVoximplant(host=args.host, port=args.port, account_id=args.account_id, api_key=args.api_key,
                          rule_ids=args.rule_id or (1,), simulate=policy or False, callback_url=args.callback_url,
                          fetch_settings=args.fetch_settings, verbose=True)
    path = fake.write_credentials(args.credentials)
    with fake:
        print(f"Fake VoxImplant API: {fake.url}", flush=True)
        print(f"Credentials written to {path.resolve()} (account_id {fake.account_id}, key_id {fake.key_id})")
        print(f"Legacy auth: account_id={fake.account_id} api_key={fake.api_key}; rule ids {sorted(fake.rule_ids)}")
        print(f"Simulator: {args.simulate} (time scale {args.time_scale}). Ctrl+C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")


if __name__ == "__main__":
    main()
