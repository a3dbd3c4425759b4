"""Telegram Bot API client: sendMessage and editMessageText in HTML mode, and getMe for the admin's check.

One seam with explicit timeouts; every refusal comes out as a TelegramError whose `kind` says
what to do: retry (after `retry_after`), follow a migrated group, fall back to plain text, give up
on this chat, or send a new message where an edit is impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from leadcaller import metrics
from leadcaller.http import ProviderSession, client_kept, never_sent, provider_timeout

TIMEOUT = (3.05, 10.0)

RETRY = "retry"  # 429, 5xx, timeouts
MIGRATED = "migrated"  # a group became a supergroup: use `migrate_to`
BAD_MARKUP = "bad_markup"  # can't parse entities: an escaping bug; resend as plain text
BAD_BUTTON = "bad_button"  # a button URL Telegram will not take: resend without buttons
BROKEN_CHAT = "broken_chat"  # chat not found, bot blocked or kicked
UNAUTHORIZED = "unauthorized"  # the bot token is wrong or revoked
NOT_MODIFIED = "not_modified"  # an edit that changes nothing: already as wanted
CANNOT_EDIT = "cannot_edit"  # the message is gone or too old to edit
REJECTED = "rejected"  # anything else Telegram refuses (too long, ...)


class TelegramError(Exception):
    """`unsent`: Telegram surely took nothing from this request (no connection was made, or it answered 5xx,
    which we retry as not sent), so it counts against none of Telegram's limits."""

    def __init__(self, message: str, *, kind: str, retry_after: float | None = None, migrate_to: str = "",
                 unsent: bool = False):
        super().__init__(message)
        self.kind, self.retry_after, self.migrate_to, self.unsent = kind, retry_after, migrate_to, unsent


@dataclass(frozen=True)
class Button:
    text: str
    url: str


def client_from_settings() -> TelegramClient | None:
    """This thread's client for the current settings (leadcaller/http.py: kept, with its connections)."""
    url, token = settings.TELEGRAM_API_URL, settings.TELEGRAM_BOT_TOKEN
    if not token:
        return None
    return client_kept("telegram", (url, token), lambda: TelegramClient(api_url=url, token=token))


class TelegramClient:
    def __init__(self, *, api_url: str, token: str, session: requests.Session | None = None):
        self.base = f"{api_url.rstrip('/')}/bot{token}"
        self.http = session or ProviderSession()

    def send_message(self, chat_id: str, text: str, *, buttons: list[Button] = (), html: bool = True,
                     silent: bool = False) -> int:
        result = self._call("sendMessage", {
            "chat_id": chat_id, "text": text, "disable_notification": silent,
            "link_preview_options": {"is_disabled": True}, **_format(html, buttons)})
        return int(result["message_id"])

    def get_me(self) -> dict[str, Any]:
        """The bot itself (id, username): proves the token."""
        return self._call("getMe", {})

    def edit_message(self, chat_id: str, message_id: int, text: str, *, buttons: list[Button] = (),
                     html: bool = True) -> None:
        self._call("editMessageText", {
            "chat_id": chat_id, "message_id": message_id, "text": text,
            "link_preview_options": {"is_disabled": True}, **_format(html, buttons)})

    def _call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        with metrics.provider_request("telegram", _error_kind):
            return self._request(method, payload)

    def _request(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.http.post(f"{self.base}/{method}", json=payload, timeout=provider_timeout(TIMEOUT))
        except requests.RequestException as exc:
            raise TelegramError(f"Telegram did not answer: {type(exc).__name__}", kind=RETRY,
                                unsent=never_sent(exc)) from exc
        try:
            body = response.json()
        except ValueError:
            raise TelegramError(f"Telegram answered {response.status_code}, not JSON", kind=RETRY,
                                unsent=response.status_code >= 500) from None
        if response.status_code == 200 and body.get("ok"):
            return body["result"] if isinstance(body.get("result"), dict) else {}
        raise _error_from(response.status_code, body)


def _format(html: bool, buttons: list[Button]) -> dict[str, Any]:
    extra: dict[str, Any] = {"parse_mode": "HTML"} if html else {}
    if buttons:
        extra["reply_markup"] = {"inline_keyboard": [[{"text": b.text, "url": b.url} for b in buttons]]}
    return extra


def _error_kind(exc: Exception) -> str | None:
    if not isinstance(exc, TelegramError) or exc.kind == NOT_MODIFIED:  # an edit already as wanted
        return None
    if exc.kind != RETRY:
        return "permanent"
    if exc.retry_after is not None:
        return "rate_limited"
    return metrics.network_kind(exc) or "server_error"


def _error_from(status: int, body: dict[str, Any]) -> TelegramError:
    # The status and `parameters` are the stable part; descriptions are matched only where
    # nothing else tells the cases apart.
    description = str(body.get("description") or f"HTTP {status}")
    parameters = body.get("parameters") or {}
    lowered = description.lower()
    if status == 429 or parameters.get("retry_after"):
        return TelegramError(description, kind=RETRY, retry_after=float(parameters.get("retry_after") or 1))
    if parameters.get("migrate_to_chat_id"):
        return TelegramError(description, kind=MIGRATED, migrate_to=str(parameters["migrate_to_chat_id"]))
    if status >= 500:
        return TelegramError(description, kind=RETRY, unsent=True)
    if status == 401:
        return TelegramError(description, kind=UNAUTHORIZED)
    if status == 403 or "chat not found" in lowered:
        return TelegramError(description, kind=BROKEN_CHAT)
    if "can't parse entities" in lowered:
        return TelegramError(description, kind=BAD_MARKUP)
    if "button url" in lowered or "button_url_invalid" in lowered:
        return TelegramError(description, kind=BAD_BUTTON)
    if "message is not modified" in lowered:
        return TelegramError(description, kind=NOT_MODIFIED)
    if "message to edit not found" in lowered or "message can't be edited" in lowered:
        return TelegramError(description, kind=CANNOT_EDIT)
    return TelegramError(description, kind=REJECTED)
