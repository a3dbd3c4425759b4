"""VoxImplant Management API client: StartScenarios and GetCallHistory for calls, and plain `call` and
`list_all` for the set-up commands (telephony/setup.py).

One seam for every request: explicit timeouts, and one error type that says whether to retry and
whether the provider may already have started the session (StartScenarios is not idempotent, so
such a try is reconciled through the call history before anything is sent again).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from leadcaller import metrics
from leadcaller.http import ProviderSession, client_kept, never_sent, provider_timeout

logger = logging.getLogger(__name__)

TIMEOUT = (3.05, 10.0)  # connect, read (seconds)
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
# Error codes of the Management API that no retry can fix (credentials, arguments, billing).
PERMANENT_CODES = {100, 101, 102, 103, 104, 5}
TOO_MANY = "429 too many requests"
PAGE = 100  # records per page of a list method (the API's default is 20)
MAX_PAGES = 50


class VoximplantError(Exception):
    """A failed request. `retryable`: try again later. `maybe_started`: the session may exist."""

    def __init__(self, message: str, *, retryable: bool, maybe_started: bool = False, code: int | None = None):
        super().__init__(message)
        self.retryable, self.maybe_started, self.code = retryable, maybe_started, code


@dataclass(frozen=True)
class Credentials:
    account_id: str
    key_id: str = ""
    private_key: str = ""
    api_key: str = ""

    def auth(self) -> tuple[dict[str, str], dict[str, str]]:
        """(headers, params) for one request."""
        if self.private_key:
            return {"Authorization": f"Bearer {_token(self, int(time.time()) // TOKEN_WINDOW)}"}, {}
        return {}, {"account_id": self.account_id, "api_key": self.api_key}


# A JWT may live up to an hour (exp <= iat + 3600: voximplant.com/docs/guides/managementapi/jwt). One is signed
# per minute and used through that minute; it stays valid a minute past its last use.
TOKEN_WINDOW = 60


@functools.lru_cache(maxsize=8)
def _token(credentials: Credentials, window: int) -> str:
    start = window * TOKEN_WINDOW
    return jwt.encode({"iss": credentials.account_id, "iat": start - 5, "exp": start + 2 * TOKEN_WINDOW},
                      _signing_key(credentials.private_key), algorithm="RS256", headers={"kid": credentials.key_id})


@functools.lru_cache(maxsize=8)
def _signing_key(pem: str):
    """The parsed RSA key, once per process: parsing costs tens of milliseconds, signing about one."""
    return load_pem_private_key(pem.encode(), password=None)


@dataclass(frozen=True)
class StartedSession:
    session_id: int
    media_session_url: str


def credentials_from_settings() -> Credentials | None:
    """The service-account key file when set, else the legacy account id and API key; None when off."""
    if settings.VOXIMPLANT_CREDENTIALS:
        path = Path(settings.VOXIMPLANT_CREDENTIALS)
        try:
            return _key_file(path, path.stat().st_mtime_ns)
        except (OSError, ValueError, KeyError) as exc:
            raise ImproperlyConfigured(f"VOXIMPLANT_CREDENTIALS: cannot read a key file at {path}: {exc}") from exc
    if settings.VOXIMPLANT_ACCOUNT_ID and settings.VOXIMPLANT_API_KEY:
        return Credentials(account_id=settings.VOXIMPLANT_ACCOUNT_ID, api_key=settings.VOXIMPLANT_API_KEY)
    return None


@functools.lru_cache(maxsize=4)
def _key_file(path: Path, mtime_ns: int) -> Credentials:
    """Read once per version of the file: a key replaced on disk is read again at its next use."""
    data = json.loads(path.read_text())
    return Credentials(account_id=str(data["account_id"]), key_id=str(data["key_id"]), private_key=data["private_key"])


def client_from_settings() -> VoximplantClient | None:
    """This thread's client for the current settings (leadcaller/http.py: kept, with its connections)."""
    credentials = credentials_from_settings()
    if credentials is None:
        return None
    url = settings.VOXIMPLANT_API_URL
    return client_kept("voximplant", (url, credentials), lambda: VoximplantClient(api_url=url, credentials=credentials))


class VoximplantClient:
    def __init__(self, *, api_url: str, credentials: Credentials, session: requests.Session | None = None):
        self.api_url = api_url.rstrip("/")
        self.credentials = credentials
        self.http = session or ProviderSession()

    def start_scenarios(self, *, rule_id: str, custom_data: str) -> StartedSession:
        body = self._call("StartScenarios", {"rule_id": rule_id, "script_custom_data": custom_data})
        session_id = body.get("call_session_history_id")
        if body.get("result") != 1 or not session_id:
            # Only result 1 with a session id proves the start; anything else is unknown, not "no".
            raise VoximplantError(f"StartScenarios answered without a session: {body!r}"[:300],
                                  retryable=True, maybe_started=True)
        return StartedSession(int(session_id), body.get("media_session_access_secure_url")
                              or body.get("media_session_access_url") or "")

    def call_history(
        self, *, since: datetime, until: datetime, custom_data: str = "", session_ids: list[int] | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            "from_date": since.astimezone(UTC).strftime(DATE_FORMAT),
            "to_date": until.astimezone(UTC).strftime(DATE_FORMAT),
            "with_calls": "true",
            "count": "100",
        }
        if custom_data:
            params["call_session_history_custom_data"] = custom_data
        if session_ids:
            params["call_session_history_id"] = ";".join(str(i) for i in session_ids)
        result = self._call("GetCallHistory", params).get("result")
        if not isinstance(result, list):
            raise VoximplantError("GetCallHistory answered without a result list", retryable=True)
        return result

    def call(self, cmd: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Any Management API method; booleans go as `true`/`false`, lists `;`-separated, as the API reads them."""
        return self._call(cmd, {key: _form_value(value) for key, value in (params or {}).items() if value is not None})

    def list_all(self, cmd: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every record of a Get* method, page by page (`count`/`offset`, until `total_count`)."""
        records: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            body = self.call(cmd, {**(params or {}), "count": PAGE, "offset": len(records)})
            page = body.get("result")
            if not isinstance(page, list):
                raise VoximplantError(f"{cmd} answered without a result list", retryable=True)
            records.extend(page)
            if not page or len(records) >= int(body.get("total_count") or 0):
                return records
        raise VoximplantError(f"{cmd}: more than {MAX_PAGES * PAGE} records", retryable=False)

    def _call(self, cmd: str, params: dict[str, str]) -> dict[str, Any]:
        with metrics.provider_request("voximplant", _error_kind):
            return self._request(cmd, params)

    def _request(self, cmd: str, params: dict[str, str]) -> dict[str, Any]:
        headers, auth_params = self.credentials.auth()
        try:
            response = self.http.post(self.api_url, data={"cmd": cmd, **auth_params, **params}, headers=headers,
                                      timeout=provider_timeout(TIMEOUT), allow_redirects=False)
        except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
            raise VoximplantError(f"{cmd}: cannot connect: {exc}", retryable=True) from exc
        except requests.ConnectionError as exc:
            # Refused before a byte was sent, or cut while waiting for the answer (then it may have run).
            raise VoximplantError(f"{cmd}: connection failed: {exc}"[:300], retryable=True,
                                  maybe_started=not never_sent(exc)) from exc
        except requests.Timeout as exc:
            raise VoximplantError(f"{cmd}: no answer within {provider_timeout(TIMEOUT)[1]} s", retryable=True,
                                  maybe_started=True) from exc
        return _parse(cmd, response)


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set)):
        return ";".join(str(item) for item in value)
    return str(value)


def _error_kind(exc: Exception) -> str | None:
    if not isinstance(exc, VoximplantError):
        return None
    if exc.code is not None:  # the API's own error envelope
        return "server_error" if exc.retryable else "permanent"
    return metrics.network_kind(exc) or ("rate_limited" if str(exc).endswith(TOO_MANY) else "server_error")


def _parse(cmd: str, response: requests.Response) -> dict[str, Any]:
    if response.status_code == 429:
        # The concurrency limit refuses the request before it runs.
        raise VoximplantError(f"{cmd}: {TOO_MANY}", retryable=True)
    if response.status_code >= 500:
        raise VoximplantError(f"{cmd}: HTTP {response.status_code}", retryable=True, maybe_started=True)
    try:
        body = response.json()
    except ValueError:
        raise VoximplantError(f"{cmd}: HTTP {response.status_code}, not JSON", retryable=True,
                              maybe_started=True) from None
    error = body.get("error") if isinstance(body, dict) else None
    if error:
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("msg", "") if isinstance(error, dict) else str(error)
        raise VoximplantError(f"{cmd}: {message} (code {code})", retryable=code not in PERMANENT_CODES, code=code)
    if response.status_code != 200 or not isinstance(body, dict):
        raise VoximplantError(f"{cmd}: unexpected HTTP {response.status_code}", retryable=True, maybe_started=True)
    return body
