"""Bitrix24 REST client: one seam for every request to the shop's portal.

Two ways in: an inbound webhook (the URL is the credential) or an OAuth application whose tokens
live in BitrixAuth. Every request takes a token from the portal's shared bucket first, so all
workers together stay under Bitrix24's limits, and every answer tells the shared store what the
portal said about them (leads/bitrix_limits.py). Errors come out as one BitrixError that says what
to do: retry (and after how long), wait for the portal's limit, or stop and ask a person.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from leadcaller import metrics
from leadcaller.http import ProviderSession, client_kept, never_sent, provider_timeout
from leads import bitrix_limits, ratelimit
from leads.models import BitrixAuth

logger = logging.getLogger(__name__)

TIMEOUT = (3.05, 15.0)  # connect, read (seconds)
# Calls that must not run twice. Bitrix24 works on a request up to its execution cap whether or
# not we still wait (and then carries it out), so for these we wait that long and a little more:
# giving up earlier leaves an add that may still happen, and a retry that may add it again.
WRITES = frozenset({"crm.lead.add", "crm.timeline.comment.add", "batch"})
SETTLE_MARGIN = 5.0  # seconds past the portal's cap: the network, its queues, clocks
# Wait this long for the rate limit inside a request; a longer wait gives the worker back (the step is
# deferred). A CRM claimer waits longer (`rate_waits_up_to`): it runs on the I/O pool, apart from calls.
MAX_INLINE_WAIT = 0.25
_inline_wait: ContextVar[float] = ContextVar("bitrix_inline_wait", default=MAX_INLINE_WAIT)
USER_AGENT = "Leadcaller/1.0 (+https://github.com/leadcaller)"
# Errors that no retry fixes: the credentials or the permissions behind them.
AUTH_ERRORS = {"NO_AUTH_FOUND", "INVALID_CREDENTIALS", "ACCESS_DENIED", "insufficient_scope", "invalid_token",
               "user_access_error", "PAYMENT_REQUIRED", "method_confirm_waiting", "PORTAL_DELETED",
               "invalid_grant", "invalid_client"}


class BitrixError(Exception):
    """kind: "auth" (credentials: ask a person), "rejected" (Bitrix24 refused the data: ask a person),
    "rate" or "transient" (retry after `retry_after`, or with backoff). `maybe_sent`: the request may
    have been carried out although no answer came back."""

    def __init__(self, message: str, *, kind: str, retry_after: float | None = None, maybe_sent: bool = False,
                 code: str = ""):
        super().__init__(message)
        self.kind, self.retry_after, self.maybe_sent, self.code = kind, retry_after, maybe_sent, code

    @property
    def retryable(self) -> bool:
        return self.kind in ("rate", "transient")


@dataclass
class BatchResult:
    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, BitrixError] = field(default_factory=dict)


@contextmanager
def rate_waits_up_to(seconds: float) -> Iterator[None]:
    """Within this block, requests of this thread wait up to `seconds` for the rate limit before they
    give up with a "rate" BitrixError."""
    token = _inline_wait.set(seconds)
    try:
        yield
    finally:
        _inline_wait.reset(token)


def client_from_settings() -> BitrixClient | None:
    """This thread's client for the current settings (leadcaller/http.py: kept, with its connections)."""
    webhook, portal = settings.BITRIX_WEBHOOK_URL, settings.BITRIX_PORTAL_URL
    if webhook:
        return client_kept("bitrix", ("webhook", webhook), lambda: BitrixClient(base_url=webhook))
    if portal:
        return client_kept("bitrix", ("oauth", portal), lambda: BitrixClient(oauth=True))
    return None


def php_query(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """`{"fields": {"PHONE": [{"VALUE": "1"}]}}` -> `[("fields[PHONE][0][VALUE]", "1")]`, as batch commands need."""
    pairs: list[tuple[str, str]] = []
    items = params.items() if isinstance(params, dict) else enumerate(params)
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, (dict, list, tuple)):
            pairs.extend(php_query(value if isinstance(value, dict) else list(value), name))
        else:
            pairs.append((name, "" if value is None else str(value)))
    return pairs


class BitrixClient:
    def __init__(self, *, base_url: str = "", oauth: bool = False, session: requests.Session | None = None):
        self.base_url, self.oauth = base_url, oauth
        self.http = session or ProviderSession()
        self.http.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})

    # --- public ----------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.call_raw(method, params or {})["result"]

    def call_raw(self, method: str, params: dict[str, Any], *, nested: dict[str, str] | None = None
                 ) -> dict[str, Any]:
        """The whole answer (with `next`, `total`). Refreshes an expired OAuth token once.
        `nested`: a batch's command keys and their methods."""
        auth = self._auth()
        try:
            return self._post(method, params, auth, nested or {})
        except BitrixError as exc:
            if exc.code != "expired_token" or auth is None:
                raise
        return self._post(method, params, self._refreshed(auth), nested or {})

    def batch(self, commands: dict[str, tuple[str, dict[str, Any]]], *, halt: bool = False) -> BatchResult:
        """Up to 50 calls in one request (one request for the rate limit)."""
        cmd = {key: f"{method}?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in php_query(params))
               for key, (method, params) in commands.items()}
        nested = {key: method for key, (method, _) in commands.items()}
        body = self.call_raw("batch", {"halt": 1 if halt else 0, "cmd": cmd}, nested=nested)["result"]
        result = BatchResult(results=dict(body.get("result") or {}))
        held: dict[str, float] = {}
        for key, error in (body.get("result_error") or {}).items():
            result.errors[key] = _error_from(400, error if isinstance(error, dict) else {}, maybe_sent=False)
            if result.errors[key].code == "OPERATION_TIME_LIMIT":  # the method is held, not the batch
                method = nested.get(key, "")
                if method not in held:
                    held[method] = bitrix_limits.method_blocked(self.portal_key, method)
                result.errors[key].retry_after = held[method]
        return result

    def room_awaited(self) -> float:
        """Sleep until our share of the portal's rate has a request free, when that comes within the
        inline wait (nothing is taken: the request that follows takes it). Returns the seconds slept.
        A claimer calls this before it claims, so that its batch holds what came due meanwhile and is not
        claimed only to be deferred."""
        try:
            wait = bitrix_limits.room_in(self.portal_key)
        except ratelimit.StoreDown:
            return 0.0  # the request says so
        if not 0 < wait <= _inline_wait.get():
            return 0.0
        time.sleep(wait)
        return wait

    def list_all(self, method: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every record of a list method, page by page (Bitrix24 pages hold 50)."""
        start: int | None = 0
        while start is not None:
            body = self.call_raw(method, {**params, "start": start})
            yield from body.get("result") or []
            start = body.get("next")

    @property
    def portal_key(self) -> str:
        base = self.base_url if not self.oauth else settings.BITRIX_PORTAL_URL
        return f"bitrix:{urlsplit(base).netloc}"

    # --- transport -------------------------------------------------------------------------
    def _auth(self) -> BitrixAuth | None:
        if not self.oauth:
            return None
        auth = BitrixAuth.objects.order_by("-updated_at").first()
        if auth is None:
            raise BitrixError("The Bitrix24 application is not installed yet (no tokens).", kind="auth")
        return auth

    def _post(self, method: str, params: dict[str, Any], auth: BitrixAuth | None,
              nested: dict[str, str]) -> dict[str, Any]:
        self._throttle([method, *set(nested.values())])  # ours: not a request, not a provider's error
        try:
            with metrics.provider_request("bitrix24", _error_kind):
                body = self._exchange(method, params, auth)
        except BitrixError as exc:  # the portal's limits: every worker waits as long as it says
            if exc.code == "QUERY_LIMIT_EXCEEDED":
                exc.retry_after = bitrix_limits.portal_full(self.portal_key)
            elif exc.code == "OPERATION_TIME_LIMIT":
                exc.retry_after = bitrix_limits.method_blocked(self.portal_key, method)
            raise
        bitrix_limits.note_answer(self.portal_key, method, body, nested)
        return body

    def _exchange(self, method: str, params: dict[str, Any], auth: BitrixAuth | None) -> dict[str, Any]:
        base = auth.client_endpoint if auth else self.base_url
        body = {**params, "auth": auth.access_token} if auth else params
        url = f"{base.rstrip('/')}/{method}.json"
        for _ in range(2):  # at most one move of the portal
            response = self._send(url, body, method)
            if response.status_code not in (301, 302, 307, 308):
                return _parse(response)
            # The portal moved: re-post the body to the new address (following would drop it).
            location = response.headers.get("Location", "")
            if not location or urlsplit(location).hostname == urlsplit(url).hostname:
                raise BitrixError(f"Bitrix24 redirected {method} to {location!r}", kind="transient")
            logger.warning("Bitrix24 portal moved to %s; update the configured address", urlsplit(location).hostname)
            url = location
        raise BitrixError(f"Bitrix24 redirected {method} twice", kind="transient")

    def _send(self, url: str, body: dict[str, Any], method: str) -> requests.Response:
        timeout = provider_timeout((TIMEOUT[0], settle_time()) if method in WRITES else TIMEOUT)
        try:
            return self.http.post(url, json=body, timeout=timeout, allow_redirects=False)
        except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
            raise BitrixError(f"cannot connect to Bitrix24: {_pathless(exc, url)}"[:300], kind="transient") from exc
        except requests.ConnectionError as exc:
            raise BitrixError(f"connection to Bitrix24 failed: {_pathless(exc, url)}"[:300], kind="transient",
                              maybe_sent=not never_sent(exc)) from exc
        except requests.Timeout as exc:
            raise BitrixError(f"no answer from Bitrix24 within {timeout[1]:g} s", kind="transient",
                              maybe_sent=True) from exc

    def _throttle(self, methods: list[str]) -> None:
        waited = 0.0
        while True:
            try:
                wait = bitrix_limits.wait_to_send(self.portal_key, methods)
            except ratelimit.StoreDown as exc:  # no request without our share of the limits: wait for the store
                raise BitrixError(f"Bitrix24's limits cannot be kept, the rate-limit store is unreachable: {exc}",
                                  kind="rate", retry_after=ratelimit.StoreDown.RETRY_AFTER) from exc
            if wait <= 0:
                return
            if waited + wait > _inline_wait.get():
                raise BitrixError("no room in Bitrix24's limits yet", kind="rate", retry_after=wait)
            time.sleep(wait)
            waited += wait

    def _refreshed(self, used: BitrixAuth) -> BitrixAuth:
        """Refresh the access token once for everybody: the first worker holds the row lock and
        refreshes; the others wait on the lock and find the new token already there."""
        try:
            with transaction.atomic():
                auth = BitrixAuth.objects.select_for_update().get(pk=used.pk)
                if auth.access_token != used.access_token:
                    return auth
                token = oauth_token({"grant_type": "refresh_token", "refresh_token": auth.refresh_token},
                                    session=self.http)
                auth_store_tokens(auth, token)
                logger.info("Bitrix24 access token refreshed")
                return auth
        except BitrixError as exc:  # kept for the admin, outside the rolled-back transaction
            BitrixAuth.objects.filter(pk=used.pk).update(last_error=str(exc)[:300])
            raise


def oauth_token(params: dict[str, str], *, session: requests.Session | None = None) -> dict[str, Any]:
    """Ask the OAuth server for tokens (refresh or authorization code). The client secret goes only there."""
    http = session or ProviderSession()
    query = {"client_id": settings.BITRIX_CLIENT_ID, "client_secret": settings.BITRIX_CLIENT_SECRET, **params}
    try:
        response = http.get(f"{settings.BITRIX_OAUTH_URL}/oauth/token/", params=query,
                            timeout=provider_timeout(TIMEOUT))
    except requests.RequestException as exc:
        raise BitrixError(f"the Bitrix24 OAuth server did not answer: {type(exc).__name__}", kind="transient") from exc
    if response.status_code >= 500:
        raise BitrixError(f"the Bitrix24 OAuth server answered {response.status_code}", kind="transient")
    try:
        body = response.json()
    except ValueError:
        raise BitrixError(f"the Bitrix24 OAuth server answered {response.status_code}, not JSON",
                          kind="transient") from None
    if response.status_code != 200 or "access_token" not in body:
        code = str(body.get("error") or response.status_code)
        raise BitrixError(f"Bitrix24 refused to renew the application's tokens ({code}: "
                          f"{body.get('error_description', '')}); reinstall the application.", kind="auth", code=code)
    return body


def auth_install(*, member_id: str, access_token: str, refresh_token: str, expires_in: int = 3600) -> BitrixAuth:
    """Store the first token pair of our portal, after proving it works against that portal.

    The portal address comes from BITRIX_PORTAL_URL, never from the request, so a forged install
    cannot point the CRM step at somebody else's portal.
    """
    endpoint = settings.BITRIX_PORTAL_URL + "rest/"
    probe = BitrixClient(base_url=endpoint)
    probe.call("crm.lead.fields", {"auth": access_token})
    with transaction.atomic():
        auth = BitrixAuth.objects.select_for_update().filter(member_id=member_id).first() or BitrixAuth(
            member_id=member_id)
        auth.domain = urlsplit(settings.BITRIX_PORTAL_URL).hostname or ""
        auth.client_endpoint = endpoint
        return auth_store_tokens(auth, {"access_token": access_token, "refresh_token": refresh_token,
                                        "expires_in": expires_in})


def auth_store_tokens(auth: BitrixAuth, token: dict[str, Any]) -> BitrixAuth:
    auth.access_token, auth.refresh_token = token["access_token"], token["refresh_token"]
    auth.expires_at = timezone.now() + timedelta(seconds=int(token.get("expires_in") or 3600))
    auth.client_endpoint = token.get("client_endpoint") or auth.client_endpoint
    auth.refreshed_at, auth.last_error = timezone.now(), ""
    auth.save()
    return auth


def settle_time() -> float:
    """Seconds after which a request sent to the portal can no longer be running there."""
    return settings.BITRIX_MAX_EXECUTION_TIME + SETTLE_MARGIN


def _pathless(exc: Exception, url: str) -> str:
    """The error's text without the request's path: an inbound webhook's path holds its secret code,
    and this text ends up in the lead's timeline, its manual-handling reason and the Telegram alert."""
    path = urlsplit(url).path
    return str(exc).replace(path, "/…") if path.strip("/") else str(exc)


def _error_kind(exc: Exception) -> str | None:
    if not isinstance(exc, BitrixError) or exc.code == "expired_token":  # renewed and repeated at once
        return None
    if exc.kind == "rate":
        return "rate_limited"
    if exc.kind == "transient":
        return metrics.network_kind(exc) or "server_error"
    return "permanent"


def _parse(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise BitrixError(f"Bitrix24 answered {response.status_code}, not JSON", kind="transient",
                          maybe_sent=response.status_code >= 500) from None
    if response.status_code == 200 and isinstance(body, dict) and "result" in body:
        return body
    raise _error_from(response.status_code, body if isinstance(body, dict) else {},
                      maybe_sent=response.status_code >= 500)


def _error_from(status: int, body: dict[str, Any], *, maybe_sent: bool) -> BitrixError:
    code = str(body.get("error") or "")
    text = str(body.get("error_description") or "").strip()
    message = f"Bitrix24: {code or status}" + (f": {text}" if text else "")
    if code == "expired_token":
        return BitrixError(message, kind="auth", code=code)  # the caller refreshes and repeats
    if code in ("QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT"):  # how long: the client asks bitrix_limits
        return BitrixError(message, kind="rate", code=code)
    if code in AUTH_ERRORS or status == 401 or (status == 403 and code != ""):
        return BitrixError(message, kind="auth", code=code)
    if status >= 500 or code in ("INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER", "OVERLOAD_LIMIT"):
        return BitrixError(message, kind="transient", maybe_sent=maybe_sent, code=code)
    if text.lower().startswith("access denied"):
        return BitrixError(message, kind="auth", code=code)
    return BitrixError(message, kind="rejected", code=code)
