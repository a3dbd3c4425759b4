"""A local fake of a Bitrix24 portal's REST API and of its OAuth server (``oauth.bitrix.info``).

It answers the way the real service does (see ``reference/external-apis.md`` sections 1 and 4(a)): inbound-webhook
routes ``/rest/<user_id>/<code>/<method>[.json]``, OAuth-app routes ``/rest/<method>`` with the token in ``auth``,
``GET /oauth/token/`` for refresh and code exchange, JSON or PHP-style form parameters, ``{"result", "time"}``
answers (``time`` with each method's ``operating`` and ``operating_reset_at``), ``{"error", "error_description"}``
errors (the code may be an empty string; no ``time``), the leaky-bucket rate limit and the method-time budget with
the real figures (``demo/fakes/bitrix24_limits.py``), 50-row pages with ``next``/``total`` and ``batch``. Leads,
timeline comments and companies live in memory. Tests script faults (503/429/500/502 HTML/403/401, an answer held
after the lead was created, a request the portal works on for up to its 60 s cap and still carries out, a dropped
connection, a 302 to a "new portal" address) with ``fail_next``.

Standard library HTTP server only, so it runs without Django::

    with FakeBitrix24() as b24:
        b24.seed_companies(120)
        ...  # point the Bitrix24 webhook setting at b24.webhook_url

Demo (foreground, prints its URLs and OAuth credentials)::

    python -m demo.fakes.bitrix24 --port 8102 --companies 5
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from demo.fakes.base import LocalHttpFake, _Handler
from demo.fakes.bitrix24_limits import EXECUTION_CAP, OPERATING_LIMIT, PLANS, LeakyBucket, OperatingBudget

__all__ = ["FAULT_KINDS", "ApiError", "FakeBitrix24", "RecordedRequest", "parse_php_query"]

FAULT_KINDS = ("query_limit", "operation_time", "internal", "bad_gateway", "insufficient_scope", "access_denied",
               "expired", "no_auth", "timeout", "slow", "drop", "moved")
PAGE_SIZE = 50  # list methods: fixed page size
BATCH_LIMIT = 50
NEW_PORTAL_PREFIX = "/new-portal"  # where a `moved` fault sends the client (same server, "new address")
MULTI_FIELDS = ("PHONE", "EMAIL", "WEB", "IM")

_BAD_GATEWAY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
_JSON = "application/json; charset=utf-8"
_REST_PATH = re.compile(r"/rest/(?:(\d+)/([^/]+)/)?([A-Za-z0-9_.]+?)(?:\.json)?/?")
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_RESULT_REF = re.compile(r"\$result\[([^\]]*)\]((?:\[[^\]]*\])*)")
_FILTER_OPS = ("!@", "@", ">=", "<=", "!=", "=%", "%=", "!%", "=", "!", ">", "<", "%")

# name -> (type, flags); flags: r = read-only, m = multiple. Custom UF_CRM_* fields are added per fake.
_LEAD_FIELDS: dict[str, tuple[str, str]] = {
    "ID": ("integer", "r"), "TITLE": ("string", ""), "NAME": ("string", ""), "SECOND_NAME": ("string", ""),
    "LAST_NAME": ("string", ""), "COMPANY_TITLE": ("string", ""), "SOURCE_ID": ("crm_status", ""),
    "SOURCE_DESCRIPTION": ("text", ""), "STATUS_ID": ("crm_status", ""), "STATUS_DESCRIPTION": ("text", ""),
    "COMMENTS": ("text", ""), "CURRENCY_ID": ("crm_currency", ""), "OPPORTUNITY": ("double", ""),
    "OPENED": ("char", ""), "ASSIGNED_BY_ID": ("user", ""), "CREATED_BY_ID": ("user", "r"),
    "MODIFY_BY_ID": ("user", "r"), "DATE_CREATE": ("datetime", "r"), "DATE_MODIFY": ("datetime", "r"),
    "COMPANY_ID": ("crm_company", ""), "CONTACT_ID": ("crm_contact", ""), "IS_RETURN_CUSTOMER": ("char", "r"),
    "HAS_PHONE": ("char", "r"), "HAS_EMAIL": ("char", "r"), "ORIGINATOR_ID": ("string", ""),
    "ORIGIN_ID": ("string", ""), "UTM_SOURCE": ("string", ""), "UTM_MEDIUM": ("string", ""),
    "UTM_CAMPAIGN": ("string", ""), "UTM_CONTENT": ("string", ""), "UTM_TERM": ("string", ""),
    "PHONE": ("crm_multifield", "m"), "EMAIL": ("crm_multifield", "m"), "WEB": ("crm_multifield", "m"),
    "IM": ("crm_multifield", "m"),
}
DEFAULT_CUSTOM_FIELDS = {"UF_CRM_CALL_RESULT": "Call result", "UF_CRM_CALL_ATTEMPTS": "Call attempts"}
_STATUSES: dict[str, list[tuple[str, str]]] = {  # crm.status.list dictionaries of a fresh portal
    "SOURCE": [(s, s.replace("_", " ").capitalize()) for s in (
        "CALL", "EMAIL", "WEB", "ADVERTISING", "PARTNER", "RECOMMENDATION", "TRADE_SHOW", "WEBFORM", "CALLBACK",
        "RC_GENERATOR", "STORE", "OTHER")],
    "STATUS": [("NEW", "Unassigned"), ("IN_PROCESS", "In progress"), ("PROCESSED", "Processed"),
               ("JUNK", "Junk lead"), ("CONVERTED", "Good lead")],
    "COMPANY_TYPE": [("CUSTOMER", "Client"), ("SUPPLIER", "Supplier"), ("COMPETITOR", "Competitor"),
                     ("PARTNER", "Partner"), ("OTHER", "Other")],
}


class ApiError(Exception):
    """An error answer: HTTP status plus ``{"error": code, "error_description": description}``."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status, self.code, self.description = status, code, description

    def body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


@dataclass
class RecordedRequest:
    http_method: str
    path: str  # as received, without the query string
    method: str  # REST method, lower case, no ".json"; "oauth.token" for the OAuth server
    params: dict[str, Any]  # query and body merged (body wins), `auth` removed
    auth: str  # "webhook", "oauth" or "oauth_server"
    token: str | None  # the access token given (OAuth mode)
    portal: str  # "main", or "new" when called under NEW_PORTAL_PREFIX
    received: float  # time.monotonic() on arrival
    fault: str | None = None
    status: int | None = None  # None while in progress or when the connection was dropped


# --- parameter encoding -------------------------------------------------------------------------------------

def parse_php_query(query: str) -> dict[str, Any]:
    """Parse ``a[b][0][c]=1&x[]=2`` the way PHP does: nested dicts, dicts keyed 0..n-1 become lists."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(query, keep_blank_values=True):
        base, bracket, rest = raw_key.partition("[")
        if not base:
            continue
        parts = [base, *_BRACKETS.findall(bracket + rest)] if bracket else [base]
        node = root
        for i, part in enumerate(parts):
            part = part or str(len(node))  # "x[]" appends
            if i == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
    return {k: _listify(v) for k, v in root.items()}


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    value = {k: _listify(v) for k, v in value.items()}
    if value and list(value) == [str(i) for i in range(len(value))]:
        return list(value.values())
    return value


def _parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    if not body.strip():
        return {}
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if content_type.split(";")[0].strip().lower() == "application/json":
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        return data
    return parse_php_query(text)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).astimezone().isoformat(timespec="seconds")


def _time_info(start: float, operating: dict[str, float]) -> dict[str, Any]:
    """The ``time`` object of an answer, with the method's budget figures (``operating``, ``operating_reset_at``:
    ``limits.md``, and the ``crm.lead.add`` answer example)."""
    finish = time.time()
    return {"start": start, "finish": finish, "duration": finish - start, "processing": finish - start,
            "date_start": _iso(start), "date_finish": _iso(finish), **operating}


def _stringify(value: Any) -> Any:
    """The portal answers numbers as strings (``"ID": "2919"``)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return value


def _to_int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


# --- list helpers: filter / select / order ------------------------------------------------------------------

def _sort_key(value: Any) -> tuple[int, float, str]:
    if value is None or value == "":
        return (0, 0.0, "")
    text = str(value)
    try:
        return (1, float(text), "")
    except ValueError:
        return (2, 0.0, text.lower())


def _test(op: str, have: Any, want: Any) -> bool:
    haves = [str(i.get("VALUE", "")) for i in have] if isinstance(have, list) else [
        "" if have is None else str(have)]
    wants = [str(w) for w in want] if isinstance(want, list) else ["" if want is None else str(want)]
    if op in ("=", "@"):
        return any(h in wants for h in haves)
    if op in ("!", "!=", "!@"):
        return not any(h in wants for h in haves)
    if op in ("%", "!%"):
        hit = any(w.lower() in h.lower() for h in haves for w in wants)
        return hit if op == "%" else not hit
    if op in ("=%", "%="):
        patterns = [re.compile(".*".join(map(re.escape, w.split("%"))), re.I | re.S) for w in wants]
        return any(p.fullmatch(h) for p in patterns for h in haves)
    compare = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
               "<=": lambda a, b: a <= b}[op]
    return any(compare(_sort_key(h), _sort_key(wants[0])) for h in haves if h != "")


def _matches(record: Mapping[str, Any], filt: Mapping[str, Any]) -> bool:
    for key, want in filt.items():
        key = str(key)
        op = next((p for p in _FILTER_OPS if key.startswith(p)), "")
        if not _test(op or "=", record.get(key[len(op):].upper()), want):
            return False
    return True


def _project(record: Mapping[str, Any], select: Iterable[Any]) -> dict[str, Any]:
    names = {"ID"}
    for item in select:
        item = str(item).upper()
        if item == "*":
            names.update(k for k in record if not k.startswith("UF_") and k not in MULTI_FIELDS)
        elif item == "UF_*":
            names.update(k for k in record if k.startswith("UF_"))
        else:
            names.add(item)
    return {k: copy.deepcopy(v) for k, v in record.items() if k in names}


def _list_answer(records: Iterable[Mapping[str, Any]], params: Mapping[str, Any],
                 default_order: str = "ID") -> dict[str, Any]:
    filt = params.get("filter") if isinstance(params.get("filter"), dict) else {}
    select = params.get("select") or ["*"]
    select = [select] if isinstance(select, str) else list(select.values()) if isinstance(select, dict) else select
    order = params.get("order") if isinstance(params.get("order"), dict) and params.get("order") else {
        default_order: "ASC"}
    start = max(0, _to_int(params.get("start")) or 0)
    rows = [r for r in records if _matches(r, filt)]
    for key, direction in reversed(list(order.items())):
        rows.sort(key=lambda r: _sort_key(r.get(str(key).upper())), reverse=str(direction).upper() == "DESC")
    answer: dict[str, Any] = {"result": [_project(r, select) for r in rows[start:start + PAGE_SIZE]]}
    if start + PAGE_SIZE < len(rows):
        answer["next"] = start + PAGE_SIZE  # present only when another page exists
    answer["total"] = len(rows)
    return answer


# --- the fake -----------------------------------------------------------------------------------------------


Method = Callable[["FakeBitrix24", dict[str, Any]], dict[str, Any]]


class FakeBitrix24(LocalHttpFake):
    """The fake portal plus OAuth server. Thread-safe; start()/stop() or use as a context manager."""

    name = "fake-bitrix24"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_user_id: int = 1,
        webhook_code: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        rate_limit: bool = True,
        plan: str = "standard",  # the leaky bucket's figures: "standard" (50, 2/s) or "enterprise" (250, 5/s)
        burst: int | None = None,  # leaky bucket threshold X, instead of the plan's
        drain_per_second: float | None = None,  # its drain Y, instead of the plan's
        operating_limit: float = OPERATING_LIMIT,  # seconds of one method per 10 minutes before 429
        latency: float = 0.0,  # added to every request (and counted as the method's execution time)
        timeout_delay: float = 2.0,  # how long a `timeout` fault holds the answer
        slow_delay: float = 2.0,  # how long a `slow` fault works on the request (at most the 60 s cap)
        access_token_ttl: float = 3600.0,
        auth_code_ttl: float = 30.0,
        reject_fields: Iterable[str] = (),  # lead fields the portal refuses (400, error "")
        lead_custom_fields: Mapping[str, str | tuple[str, str]] | None = None,  # UF_CRM_* -> title or (title, type)
        access_denied_status: int = 403,
        verbose: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.webhook_user_id = webhook_user_id
        self.webhook_code = webhook_code or secrets.token_hex(8)
        self.client_id = client_id or f"local.{secrets.token_hex(7)}.{secrets.randbelow(10 ** 8):08d}"
        self.client_secret = client_secret or secrets.token_hex(25)
        self.member_id = secrets.token_hex(16)
        threshold, drain = PLANS[plan]
        self.rate_limit = rate_limit
        self.bucket = LeakyBucket(burst or threshold, drain_per_second or drain)
        self.operating = OperatingBudget(operating_limit)
        self.latency, self.timeout_delay, self.verbose = latency, timeout_delay, verbose
        self.slow_delay = slow_delay
        self.access_token_ttl, self.auth_code_ttl = access_token_ttl, auth_code_ttl
        self.reject_fields: set[str] = {f.upper() for f in reject_fields}
        self.access_denied_status = access_denied_status
        self.payment_required = False  # toggle: the OAuth server answers PAYMENT_REQUIRED
        self.refresh_count = 0
        custom = DEFAULT_CUSTOM_FIELDS if lead_custom_fields is None else lead_custom_fields
        self.lead_fields: dict[str, tuple[str, str, str]] = {  # name -> (type, flags, title)
            **{n: (t, f, n.replace("_", " ").title()) for n, (t, f) in _LEAD_FIELDS.items()},
            **{n.upper(): (("string", "", spec) if isinstance(spec, str) else (spec[1], "", spec[0]))
               for n, spec in custom.items()}}

        self._lock = threading.RLock()
        self._requests: list[RecordedRequest] = []
        self._faults: dict[str, deque[str]] = defaultdict(deque)
        self._leads: dict[int, dict[str, Any]] = {}
        self._companies: dict[int, dict[str, Any]] = {}
        self._comments: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._access_tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self._refresh_tokens: set[str] = set()
        self._auth_codes: dict[str, float] = {}  # code -> expiry (time.monotonic())
        self._lead_ids, self._company_ids = itertools.count(1001), itertools.count(2901)
        self._comment_ids, self._multi_ids = itertools.count(9001), itertools.count(1)
        status_ids = itertools.count(1)
        self._statuses = [
            {"ID": str(next(status_ids)), "ENTITY_ID": entity, "STATUS_ID": sid, "NAME": name, "NAME_INIT": name,
             "SORT": str((i + 1) * 10), "SYSTEM": "Y" if entity == "STATUS" else "N",
             "SEMANTICS": {"CONVERTED": "S", "JUNK": "F"}.get(sid) if entity == "STATUS" else None}
            for entity, rows in _STATUSES.items() for i, (sid, name) in enumerate(rows)]
        super().__init__()

    # lifecycle -------------------------------------------------------------------------------------------


    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeBitrix24 is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def portal_url(self) -> str:
        return f"{self.base_url}/"

    @property
    def new_portal_url(self) -> str:
        """The address a `moved` fault redirects to: served by this same fake, under another host name,
        since a client rightly refuses a redirect to the same host (that is a licence page, not a move)."""
        return f"http://localhost:{self.port}{NEW_PORTAL_PREFIX}/"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/rest/{self.webhook_user_id}/{self.webhook_code}/"

    @property
    def client_endpoint(self) -> str:
        return f"{self.base_url}/rest/"

    @property
    def oauth_url(self) -> str:
        """Base of the OAuth server; the client appends ``oauth/token/``."""
        return f"{self.base_url}/"

    # OAuth helpers ---------------------------------------------------------------------------------------
    def issue_tokens(self) -> dict[str, Any]:
        """A first access + refresh pair, as installing the app gives (same shape as the token endpoint)."""
        with self._lock:
            return self._new_tokens()

    def issue_auth_code(self) -> str:
        """A code for ``grant_type=authorization_code``: valid ``auth_code_ttl`` seconds, once."""
        code = secrets.token_hex(16)
        with self._lock:
            self._auth_codes[code] = time.monotonic() + self.auth_code_ttl
        return code

    def expire_access_tokens(self) -> None:
        """Every access token issued so far now answers 401 expired_token."""
        with self._lock:
            self._access_tokens = dict.fromkeys(self._access_tokens, 0.0)

    # seeding ---------------------------------------------------------------------------------------------
    def add_company(self, title: str, company_type: str = "PARTNER", **fields: Any) -> int:
        """Store a company; ``PHONE``/``EMAIL`` may be a string or a list of ``{"VALUE", "VALUE_TYPE"}``."""
        with self._lock:
            company_id = next(self._company_ids)
            now = _iso(time.time())
            record: dict[str, Any] = {"ID": str(company_id), "TITLE": title, "COMPANY_TYPE": company_type,
                                      "ASSIGNED_BY_ID": str(self.webhook_user_id), "OPENED": "Y",
                                      "COMMENTS": None, "DATE_CREATE": now, "DATE_MODIFY": now}
            self._write(record, {k.upper(): v for k, v in fields.items()}, known=None)
            self._companies[company_id] = record
            return company_id

    def seed_companies(self, count: int, company_type: str = "PARTNER", *, phones: bool = True) -> list[int]:
        """Add ``count`` companies titled ``Partner 001``... with one work phone each (unless ``phones=False``)."""
        return [self.add_company(f"Partner {i:03d}", company_type,
                                 **({"PHONE": f"+7900{i:07d}"} if phones else {})) for i in range(1, count + 1)]

    # test controls and inspection -------------------------------------------------------------------------
    def fail_next(self, method: str, kind: str, times: int = 1) -> None:
        """Answer the next ``times`` requests for ``method`` (``"*"`` = any REST method; ``"oauth.token"`` =
        the OAuth server) with fault ``kind``. ``timeout`` runs the method (a lead IS created) but holds the
        answer ``timeout_delay`` s; ``slow`` works ``slow_delay`` s (at most the portal's 60 s cap) before it
        runs the method, which takes effect whether or not the client still waits; ``drop`` closes the
        connection unanswered; ``moved`` answers 302 to the same path under ``new_portal_url``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {FAULT_KINDS}")
        with self._lock:
            self._faults[method.lower()].extend([kind] * times)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far (REST and OAuth server)."""
        with self._lock:
            return list(self._requests)

    @property
    def leads(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._leads)

    @property
    def companies(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._companies)

    @property
    def comments(self) -> dict[int, list[dict[str, Any]]]:
        """Timeline comments per lead id."""
        with self._lock:
            return copy.deepcopy(dict(self._comments))

    def peak_rate(self, window: float = 1.0) -> int:
        """The most REST requests that arrived within any ``window`` seconds (OAuth server excluded)."""
        times = sorted(r.received for r in self.requests if r.auth != "oauth_server")
        best, j = 0, 0
        for i, t in enumerate(times):
            while t - times[j] >= window:
                j += 1
            best = max(best, i - j + 1)
        return best

    def use_method_time(self, method: str, seconds: float) -> None:
        """Count ``seconds`` of execution time against ``method`` now, as the portal's other applications and
        webhooks would: the budget is the portal's, per method (helpdesk "Changes in REST 22.0.0")."""
        self.operating.charge(method.lower(), time.time(), seconds)

    def reset(self) -> None:
        """Forget requests, leads, comments, companies, pending faults and the bucket level (keeps settings,
        credentials and issued tokens)."""
        with self._lock:
            for store in (self._requests, self._faults, self._leads, self._companies, self._comments):
                store.clear()
            self.refresh_count = 0
        self.bucket.reset()
        self.operating.reset()


    # HTTP ------------------------------------------------------------------------------------------------
    def _handle(self, h: _Handler) -> None:
        received, started = time.monotonic(), time.time()
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        try:
            params = parse_php_query(split.query)
            params.update(_parse_body(body, h.headers.get("Content-Type", "")))
        except ValueError:
            error = ApiError(400, "INVALID_REQUEST", "Request body could not be parsed")
            return self._send(h, None, 400, json.dumps(error.body()).encode(), _JSON)
        path, portal = split.path, "main"
        if path.startswith(NEW_PORTAL_PREFIX + "/"):
            path, portal = path[len(NEW_PORTAL_PREFIX):], "new"
        uid = code = None
        if path.rstrip("/") == "/oauth/token":
            method, auth = "oauth.token", "oauth_server"
        elif (match := _REST_PATH.fullmatch(path)) is not None:
            uid, code, method = match.group(1), match.group(2), match.group(3).lower()
            auth = "webhook" if uid else "oauth"
        else:
            return self._send(h, None, 404, b"Not Found", "text/plain")
        token = params.pop("auth", None) if auth == "oauth" else None
        rec = RecordedRequest(h.command, split.path, method, params, auth, token if isinstance(token, str) else None,
                              portal, received)
        with self._lock:
            self._requests.append(rec)
            queue = self._faults.get(method) or (None if auth == "oauth_server" else self._faults.get("*"))
            rec.fault = fault = queue.popleft() if queue else None
        if self.latency:
            self._stopping.wait(self.latency)

        if fault == "drop":
            h.close_connection = True  # nothing written: the client sees the connection closed
            return
        if fault == "moved":
            location = f"{self.new_portal_url.rstrip('/')}{path}" + (f"?{split.query}" if split.query else "")
            return self._send(h, rec, 302, b"", "text/html", {"Location": location})
        if fault == "bad_gateway":
            return self._send(h, rec, 502, _BAD_GATEWAY, "text/html")
        try:
            if fault not in (None, "timeout", "slow"):
                raise self._fault_error(fault)
            if auth == "oauth_server":
                answer = self._token_endpoint(params)
            else:
                answer = self._rest(method, params, uid, code, rec.token, started, slow=fault == "slow")
            status = 200
        except ApiError as exc:
            status, answer = exc.status, exc.body()  # errors carry no `time` (b24jssdk RestrictionManager)
        if fault == "timeout":
            self._stopping.wait(self.timeout_delay)  # the work is done; only the answer is late
        self._send(h, rec, status, json.dumps(answer).encode(), _JSON)

    def _rest(self, method: str, params: dict[str, Any], uid: str | None, code: str | None, token: str | None,
              started: float, *, slow: bool) -> dict[str, Any]:
        """One REST call in the order the portal checks: the leaky bucket (503), the credentials, the method's
        time budget (429, a batch's own is not counted), then the work, timed against the method."""
        if self.rate_limit and not self.bucket.admit():
            raise ApiError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        self._authorize(uid, code, token)
        if method != "batch" and self.operating.blocked(method):
            raise self._fault_error("operation_time")
        if slow:  # the portal works on it up to its cap, and then carries it out even if nobody waits
            self._stopping.wait(min(self.slow_delay, EXECUTION_CAP))
        with self._lock:
            answer = self._call(method, params)
        if method != "batch":  # a batch's own time is not counted, its calls' are (in _batch)
            self.operating.charge(method, started, time.time() - started)
        answer["time"] = _time_info(started, self.operating.time_fields(method))
        return answer

    def _send(self, h: _Handler, rec: RecordedRequest | None, status: int, body: bytes, content_type: str,
              headers: Mapping[str, str] | None = None) -> None:
        if rec is not None:
            with self._lock:
                rec.status = status
        try:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): that is the scenario being tested

    def _fault_error(self, fault: str) -> ApiError:
        status, code, description = {
            "query_limit": (503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
            "operation_time": (429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."),
            "internal": (500, "INTERNAL_SERVER_ERROR", "Internal server error"),
            "insufficient_scope": (403, "insufficient_scope",
                                   "The request requires higher privileges than provided by the access token"),
            "access_denied": (self.access_denied_status, "", "Access denied."),
            "expired": (401, "expired_token", "The access token provided has expired."),
            "no_auth": (401, "NO_AUTH_FOUND", "Wrong authorization data"),
        }[fault]
        return ApiError(status, code, description)

    def _authorize(self, uid: str | None, code: str | None, token: str | None) -> None:
        if uid is not None:  # inbound webhook: the code in the path is the credential
            if uid != str(self.webhook_user_id) or not secrets.compare_digest(
                    str(code).encode(), self.webhook_code.encode()):
                raise ApiError(401, "NO_AUTH_FOUND", "Wrong authorization data")
            return
        with self._lock:
            expires = self._access_tokens.get(token or "")
        if expires is None:
            raise ApiError(401, "NO_AUTH_FOUND", "Wrong authorization data")
        if expires <= time.time():
            raise ApiError(401, "expired_token", "The access token provided has expired.")

    # OAuth server ----------------------------------------------------------------------------------------
    def _new_tokens(self) -> dict[str, Any]:
        access, refresh, now = secrets.token_hex(35), secrets.token_hex(35), time.time()
        self._access_tokens[access] = now + self.access_token_ttl
        self._refresh_tokens.add(refresh)
        return {"access_token": access, "expires": int(now + self.access_token_ttl),
                "expires_in": int(self.access_token_ttl), "scope": "crm", "domain": "oauth.bitrix.info",
                "server_endpoint": f"{self.oauth_url}rest/", "status": "L", "client_endpoint": self.client_endpoint,
                "member_id": self.member_id, "user_id": self.webhook_user_id, "refresh_token": refresh}

    def _token_endpoint(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if str(params.get("client_id", "")) != self.client_id or not secrets.compare_digest(
                str(params.get("client_secret", "")).encode(), self.client_secret.encode()):
            raise ApiError(401, "invalid_client", "Invalid client credentials")
        if self.payment_required:  # HTTP status unconfirmed in the docs
            raise ApiError(402, "PAYMENT_REQUIRED", "Payment required")
        grant = params.get("grant_type")
        with self._lock:
            if grant == "refresh_token":
                refresh = str(params.get("refresh_token", ""))
                if refresh not in self._refresh_tokens:
                    raise ApiError(400, "invalid_grant", "Invalid refresh token")
                self._refresh_tokens.discard(refresh)  # each refresh replaces the refresh token
                self.refresh_count += 1
            elif grant == "authorization_code":
                expires = self._auth_codes.pop(str(params.get("code", "")), None)
                if expires is None or expires < time.monotonic():
                    raise ApiError(400, "invalid_grant", "Invalid authorization code")
            else:
                raise ApiError(400, "invalid_request", "Unsupported grant_type")
            return self._new_tokens()

    # REST methods (called with self._lock held) ------------------------------------------------------------
    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self._methods.get(method)
        if handler is None:
            raise ApiError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        return handler(self, params)

    def _merge_multi(self, current: list[dict[str, Any]], value: Any, type_id: str) -> list[dict[str, Any]]:
        """Multifield semantics: an item with ``ID`` overwrites (or with DELETE=Y / empty VALUE removes) that
        item; items without ``ID`` are added. Stored items carry ID, VALUE_TYPE, VALUE and TYPE_ID."""
        items = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else [value]
        result = [dict(i) for i in current]
        for item in items:
            item = item if isinstance(item, dict) else {"VALUE": item}
            text, item_id = str(item.get("VALUE") or "").strip(), str(item.get("ID") or "")
            existing = next((r for r in result if r["ID"] == item_id), None) if item_id else None
            if existing is not None:
                if not text or str(item.get("DELETE", "")).upper() == "Y":
                    result.remove(existing)
                else:
                    existing.update(VALUE=text, VALUE_TYPE=str(item.get("VALUE_TYPE") or existing["VALUE_TYPE"]))
            elif text:
                result.append({"ID": str(next(self._multi_ids)), "VALUE_TYPE": str(item.get("VALUE_TYPE") or "WORK"),
                               "VALUE": text, "TYPE_ID": type_id})
        return result

    def _write(self, record: dict[str, Any], fields: Mapping[str, Any], known: Mapping[str, Any] | None) -> None:
        """Apply ``fields`` to ``record``; with ``known``, unknown and read-only names are silently ignored."""
        for key, value in fields.items():
            if key in MULTI_FIELDS:
                merged = self._merge_multi(record.get(key, []), value, key)
                record.pop(key, None)
                if merged:
                    record[key] = merged
            elif known is None or (key in known and "r" not in known[key][1]):
                record[key] = _stringify(value)
        record["DATE_MODIFY"] = _iso(time.time())

    def _lead_fields_param(self, params: Mapping[str, Any], *, required: bool) -> dict[str, Any]:
        fields = params.get("fields", params.get("FIELDS"))
        if fields in (None, "", []) and not required:
            return {}
        if not isinstance(fields, dict) or not fields:
            raise ApiError(400, "", "Parameter 'fields' must be a non-empty object.")
        fields = {str(k).upper(): v for k, v in fields.items()}
        refused = sorted(self.reject_fields.intersection(fields))
        if refused:
            raise ApiError(400, "", f"Field '{refused[0]}' is not allowed on this portal.")
        return fields

    def _lead(self, params: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        lead_id = _to_int(params.get("id", params.get("ID")))
        if lead_id is None:
            raise ApiError(400, "", "ID is not defined or invalid.")
        if lead_id not in self._leads:
            raise ApiError(400, "", "Not found")
        return lead_id, self._leads[lead_id]

    def _lead_add(self, params: dict[str, Any]) -> dict[str, Any]:
        fields = self._lead_fields_param(params, required=True)
        if not any(fields.get(k) for k in ("TITLE", "NAME", "PHONE")):
            raise ApiError(400, "", "Required fields are missing: set TITLE, NAME or PHONE.")
        lead_id, user = next(self._lead_ids), str(self.webhook_user_id)
        record: dict[str, Any] = {n: None for n, (_, flags, _) in self.lead_fields.items() if "m" not in flags}
        record.update(ID=str(lead_id), STATUS_ID="NEW", OPENED="Y", ASSIGNED_BY_ID=user, CREATED_BY_ID=user,
                      MODIFY_BY_ID=user, DATE_CREATE=_iso(time.time()), CURRENCY_ID="RUB", OPPORTUNITY="0.00")
        self._write(record, fields, self.lead_fields)
        self._leads[lead_id] = record
        self._derive(record)
        if self.verbose:
            print(f"crm.lead.add -> {lead_id}: {record.get('TITLE')!r}", flush=True)
        return {"result": lead_id}

    @staticmethod
    def _derive(record: dict[str, Any]) -> None:
        # crm-lead-add.md: IS_RETURN_CUSTOMER cannot be set; it becomes Y when COMPANY_ID or CONTACT_ID is
        # given, and that company or contact is the lead's client (a repeat lead).
        record["HAS_PHONE"] = "Y" if record.get("PHONE") else "N"
        record["HAS_EMAIL"] = "Y" if record.get("EMAIL") else "N"
        linked = any(str(record.get(k) or "0") != "0" for k in ("COMPANY_ID", "CONTACT_ID"))
        record["IS_RETURN_CUSTOMER"] = "Y" if linked else "N"

    def _lead_update(self, params: dict[str, Any]) -> dict[str, Any]:
        _, record = self._lead(params)
        self._write(record, self._lead_fields_param(params, required=False), self.lead_fields)
        self._derive(record)
        return {"result": True}

    def _lead_fields(self, params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, (kind, flags, title) in self.lead_fields.items():
            info: dict[str, Any] = {"type": kind, "isRequired": False, "isReadOnly": "r" in flags,
                                    "isImmutable": False, "isMultiple": "m" in flags,
                                    "isDynamic": name.startswith("UF_"), "title": title}
            if name in ("SOURCE_ID", "STATUS_ID"):
                info["statusType"] = name[:-3]
            if name.startswith("UF_"):
                info.update(listLabel=title, formLabel=title, filterLabel=title)
            result[name] = info
        return {"result": result}

    def _timeline_comment_add(self, params: dict[str, Any]) -> dict[str, Any]:
        fields = params.get("fields")
        fields = {str(k).upper(): v for k, v in fields.items()} if isinstance(fields, dict) else {}
        if not fields.get("ENTITY_ID") or not fields.get("ENTITY_TYPE"):
            raise ApiError(400, "100", "Required fields are not provided: ENTITY_ID, ENTITY_TYPE.")
        lead_id = _to_int(fields["ENTITY_ID"])
        if str(fields["ENTITY_TYPE"]).lower() != "lead" or lead_id not in self._leads:
            raise ApiError(400, "OWNER_NOT_FOUND", "Owner of the element not found.")
        comment = str(fields.get("COMMENT") or "")
        if not comment.strip():
            raise ApiError(400, "INVALID_ARG_VALUE", "Empty comment.")
        comment_id = next(self._comment_ids)
        self._comments[lead_id].append({
            "ID": comment_id, "ENTITY_ID": lead_id, "ENTITY_TYPE": "lead", "COMMENT": comment,
            "AUTHOR_ID": str(fields.get("AUTHOR_ID") or self.webhook_user_id), "CREATED": _iso(time.time())})
        return {"result": comment_id}

    def _status_list(self, params: dict[str, Any]) -> dict[str, Any]:
        answer = _list_answer(self._statuses, {**params, "start": 0}, default_order="SORT")
        answer.pop("next", None)  # dictionaries come back whole
        return answer

    def _batch(self, params: dict[str, Any]) -> dict[str, Any]:
        cmd = params.get("cmd") or {}
        cmd = {str(i): c for i, c in enumerate(cmd)} if isinstance(cmd, list) else cmd
        if not isinstance(cmd, dict):
            raise ApiError(400, "INVALID_ARG_VALUE", "Parameter 'cmd' must be an object.")
        if len(cmd) > BATCH_LIMIT:
            raise ApiError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        halt = str(params.get("halt", 0)).lower() not in ("0", "", "false", "n")
        out: dict[str, dict[str, Any]] = {"result": {}, "result_error": {}, "result_total": {}, "result_next": {},
                                          "result_time": {}}
        for key, line in cmd.items():
            started = time.time()
            name, _, query = str(line).partition("?")
            name = name.strip().lower().removesuffix(".json")
            try:
                if name == "batch":
                    raise ApiError(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage")
                if self.operating.blocked(name):
                    raise self._fault_error("operation_time")
                answer = self._call(name, self._resolve(parse_php_query(query), out["result"]))
                self.operating.charge(name, started, time.time() - started)
            except ApiError as exc:
                out["result_error"][key] = exc.body()
                if halt:
                    break
                continue
            out["result"][key] = answer["result"]
            if "total" in answer:
                out["result_total"][key] = answer["total"]
            if answer.get("next") is not None:
                out["result_next"][key] = answer["next"]
            out["result_time"][key] = _time_info(started, self.operating.time_fields(name))
        return {"result": {k: v or [] for k, v in out.items()}}  # PHP sends empty maps as []

    def _resolve(self, value: Any, results: Mapping[str, Any]) -> Any:
        """Replace ``$result[key][field]...`` with values from earlier batch commands."""
        if isinstance(value, dict):
            return {k: self._resolve(v, results) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve(v, results) for v in value]
        if not isinstance(value, str) or "$result[" not in value:
            return value

        def lookup(match: re.Match[str]) -> str:
            node: Any = results.get(match.group(1))
            for part in _BRACKETS.findall(match.group(2)):
                if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    node = node.get(part) if isinstance(node, dict) else None
            return "" if node is None else str(node)
        return _RESULT_REF.sub(lookup, value)

    _methods: dict[str, Method] = {
        "crm.lead.add": _lead_add, "crm.lead.update": _lead_update, "crm.lead.fields": _lead_fields,
        "crm.lead.get": lambda self, params: {"result": copy.deepcopy(self._lead(params)[1])},
        "crm.lead.list": lambda self, params: _list_answer(self._leads.values(), params),
        "crm.company.list": lambda self, params: _list_answer(self._companies.values(), params),
        "crm.timeline.comment.add": _timeline_comment_add, "crm.status.list": _status_list, "batch": _batch,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local fake of a Bitrix24 portal and its OAuth server (demo).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--companies", type=int, default=5, help="partner companies to seed")
    parser.add_argument("--webhook-code", default=None, help="inbound webhook code (random when omitted)")
    parser.add_argument("--no-rate-limit", action="store_true", help="switch the leaky bucket off")
    parser.add_argument("--plan", choices=sorted(PLANS), default="standard", help="the leaky bucket's figures")
    args = parser.parse_args(argv)

    fake = FakeBitrix24(host=args.host, port=args.port, latency=args.latency, webhook_code=args.webhook_code,
                        rate_limit=not args.no_rate_limit, plan=args.plan, verbose=True)
    with fake:
        fake.seed_companies(args.companies)
        tokens = fake.issue_tokens()
        print(f"Fake Bitrix24 portal: {fake.portal_url}", flush=True)
        print(f"Inbound webhook URL: {fake.webhook_url}")
        print(f"OAuth: client endpoint {fake.client_endpoint}, token server {fake.oauth_url}oauth/token/")
        print(f"OAuth client_id={fake.client_id} client_secret={fake.client_secret}")
        print(f"First token pair: access_token={tokens['access_token']} refresh_token={tokens['refresh_token']}")
        print(f"{args.companies} PARTNER companies seeded; latency {args.latency} s. Ctrl+C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")


if __name__ == "__main__":
    main()
