"""A local fake of the Telegram Bot API: sendMessage, editMessageText (and getMe).

It answers the way the real service does (see ``reference/external-apis.md`` sections 3 and 4(c)): routes
``/bot<token>/<method>`` (GET or POST; JSON, form or query parameters; method names case-insensitive), the
``{"ok": false, "error_code", "description", "parameters"?}`` envelope with the HTTP status equal to ``error_code``,
HTML parse mode checked like Telegram's parser (same error texts and UTF-8 byte offsets; entities in UTF-16 units),
the 4096-character limit counted after parsing, inline keyboards with URL buttons, edits, group-to-supergroup
migration, blocked and kicked bots, and the Bots FAQ rate limits (1 message/s per chat with a short burst, 20/min per
group, 30/s overall) answered with 429 + ``retry_after``. Messages live in memory per chat. Tests script faults
(429, 502 HTML, slow answer after the message was sent, dropped connection, 400/403/401) with ``fail_next`` and move
the fake's clock with ``advance`` instead of sleeping.

Standard library HTTP server only, so it runs without Django::

    with FakeTelegram() as tg:
        tg.add_chat(-1001234567890, "supergroup", title="Sales")
        ...  # TELEGRAM_API_URL = tg.url, TELEGRAM_BOT_TOKEN = tg.token

Demo (foreground, prints its URL, token and every message as the chat shows it)::

    python -m demo.fakes.telegram --port 8103 --chat -1001234567890
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from demo.fakes.base import LocalHttpFake, _Handler
from demo.fakes.telegram_links import LinkError, button_error, check_link

__all__ = ["BLOCKED", "FAULT_KINDS", "KICKED", "ApiError", "FakeTelegram", "HtmlError", "Message", "RecordedRequest",
           "Version", "parse_html", "render"]

FAULT_KINDS = ("http429", "http5xx", "timeout", "drop", "chat_not_found", "blocked", "unauthorized",
               "button_url_invalid")
CHAT_TYPES = ("private", "group", "supergroup", "channel")
MAX_TEXT = 4096  # characters after entity parsing
BLOCKED = "Forbidden: bot was blocked by the user"
KICKED = {"private": BLOCKED, "group": "Forbidden: bot was kicked from the group chat",
          "supergroup": "Forbidden: bot was kicked from the supergroup chat",
          "channel": "Forbidden: bot is not a member of the channel chat"}
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message")

_BAD_GATEWAY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
_JSON = "application/json"
_PATH = re.compile(r"/bot([^/]*)/([A-Za-z0-9_]+)/?")
_METHODS = {name.lower(): name for name in ("sendMessage", "editMessageText", "getMe")}
_WS = " \t\n\r\f\v"
_SPACES = re.compile(r"\s*", re.ASCII)
_ENTITY = re.compile(r"&(?:#x([0-9a-fA-F]{1,7})|#([0-9]{1,7})|([A-Za-z]*))(;?)")
_END_TAG = re.compile(r"</([^\s>]*)\s*(>?)", re.ASCII)
_START_TAG = re.compile(r"<([^\s>]*)", re.ASCII)
_ATTRIBUTE = re.compile(r"(?P<name>[^\s=>]*)\s*(?:=\s*(?:(?P<dq>\"[^\"]*\"?)|(?P<sq>'[^']*'?)"
                        r"|(?P<token>[A-Za-z0-9.-]*)))?", re.ASCII)
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
         "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
         "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote",
         "tg-emoji": "custom_emoji", "tg-time": "date_time"}
_BUTTON_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query", "callback_game", "pay",
                   "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text")


class ApiError(Exception):
    """A refusal in the Bot API envelope; ``status`` is also the HTTP status."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class HtmlError(ValueError):
    """Markup Telegram cannot parse; the message is the reason after ``can't parse entities: ``."""


@dataclass(frozen=True)
class Version:
    """One state of a message's content: as sent (``text``) and as shown (``plain`` + ``entities``)."""

    text: str
    plain: str
    entities: list[dict[str, Any]]
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    at: int  # unix time of the send or the edit


@dataclass
class Message:
    message_id: int
    chat_id: int
    date: int
    text: str  # raw, as sent (markup included)
    plain: str  # after entity parsing: what the chat shows
    entities: list[dict[str, Any]]
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    disable_notification: bool = False
    link_preview_options: dict[str, Any] | None = None
    edit_date: int | None = None
    edits: list[Version] = field(default_factory=list)  # previous versions, oldest first


@dataclass
class RecordedRequest:
    http_method: str
    method: str  # canonical API method name when known, else as sent
    params: dict[str, Any]
    token: str
    received: float  # time.monotonic()
    status: int | None = None  # None: no answer (a `drop` fault)
    fault: str | None = None


@dataclass
class _Chat:
    id: int
    type: str
    title: str
    username: str | None = None
    blocked: str | None = None  # the 403 description while blocked/kicked
    migrated_to: int | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id}
        data.update({"first_name": self.title} if self.type == "private" else {"title": self.title})
        if self.username:
            data["username"] = self.username
        data["type"] = self.type
        return data


# --- HTML parse mode ---------------------------------------------------------------------------------------

def _u16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _entity(text: str, i: int, strict: bool) -> tuple[str, int] | None:
    """``text[i] == "&"``: the character and the index after the entity, or None when Telegram does not know it
    (it then keeps the ``&`` literally; strict mode also wants the ``;``)."""
    m = _ENTITY.match(text, i)
    assert m is not None  # every alternative can match the empty string after "&"
    hexa, dec, name, semi = m.groups()
    if name is not None:
        char = _NAMED.get(name)
    else:
        value = int(hexa, 16) if hexa else int(dec)
        char = chr(value) if 0 < value < 0x10FFFF and not 0xD800 <= value <= 0xDFFF else None
    return None if char is None or (strict and not semi) else (char, m.end())


def _unescape(text: str, start: int, end: int, strict: bool) -> str:
    parts, i = [], start
    while (k := text.find("&", i, end)) >= 0:
        parts.append(text[i:k])
        decoded = _entity(text, k, strict)
        if decoded is None and strict:
            token = _ENTITY.match(text, k).group()  # type: ignore[union-attr]
            what = f'Unsupported HTML entity "{token}"' if len(token) > 1 else 'Unescaped "&"'
            raise HtmlError(f"{what} at byte offset {_byte(text, k)}")
        parts.append(decoded[0] if decoded else "&")
        i = decoded[1] if decoded else k + 1
    parts.append(text[i:end])
    return "".join(parts)


def _byte(text: str, i: int) -> int:
    return len(text[:i].encode("utf-8", "surrogatepass"))


def parse_html(text: str, *, strict_entities: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (plain text, entities) or raise HtmlError with Telegram's reason.

    Real Telegram keeps an unknown entity (``&nbsp;``) or a bare ``&`` as literal text; ``strict_entities``
    (default) rejects them instead, so that escaping bugs fail tests."""
    out: list[str] = []
    pos = 0  # UTF-16 length of `out`
    stack: list[tuple[str, dict[str, str], int, int]] = []  # (tag, attributes, utf16 start, index in out)
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        k = text.find("<", i)
        if k != i:
            k = n if k < 0 else k
            out.append(_unescape(text, i, k, strict_entities))
            pos, i = pos + _u16(out[-1]), k
            continue
        m = _END_TAG.match(text, i)
        if m:
            if not stack:
                raise HtmlError(f"Unexpected end tag at byte offset {_byte(text, i)}")
            if not m.group(2):
                raise HtmlError(f"Unclosed end tag at byte offset {_byte(text, i)}")
            tag, attrs, start, index = stack.pop()
            if m.group(1) and m.group(1).lower() != tag:
                raise HtmlError(f'Unmatched end tag at byte offset {_byte(text, i)}, expected "</{tag}>", '
                                f'found "</{m.group(1)}>"')
            if pos > start:
                _close(entities, tag, attrs, start, pos - start, "".join(out[index:]))
            i = m.end()
            continue
        m = _START_TAG.match(text, i)
        assert m is not None
        tag = m.group(1).lower()
        if m.end() >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {_byte(text, i)}")
        if tag not in _TAGS:
            raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {_byte(text, i)}')
        attrs, end = _attributes(text, m.end(), tag, i, strict_entities)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {_byte(text, i)}')
        required = {"tg-emoji": "emoji-id", "tg-time": "unix"}.get(tag)
        if required and not attrs.get(required, "").isdigit():
            raise HtmlError(f'Tag "{tag}" must have a numeric attribute "{required}" at byte offset {_byte(text, i)}')
        stack.append((tag, attrs, pos, len(out)))
        i = end
    if stack:
        raise HtmlError(f"Can't find end tag corresponding to start tag {stack[-1][0]}")
    for entity in entities:
        entity.pop("_language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _attributes(text: str, j: int, tag: str, begin: int, strict: bool) -> tuple[dict[str, str], int]:
    """Attributes of a start tag from ``j`` to its ``>``; returns them and the index after the ``>``."""
    attrs: dict[str, str] = {}
    while True:
        j = _SPACES.match(text, j).end()  # type: ignore[union-attr]
        if j >= len(text):
            raise HtmlError(f"Unclosed start tag at byte offset {_byte(text, begin)}")
        if text[j] == ">":
            return attrs, j + 1
        m = _ATTRIBUTE.match(text, j)
        assert m is not None
        name, token = m.group("name").lower(), m.group("token")
        quote = "dq" if m.group("dq") is not None else "sq" if m.group("sq") is not None else None
        if not name:
            raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset {_byte(text, begin)}')
        if quote is not None:
            quoted = m.group(quote)
            if len(quoted) < 2 or quoted[-1] != quoted[0]:
                raise HtmlError(f"Unclosed start tag at byte offset {_byte(text, begin)}")
            value = _unescape(text, m.start(quote) + 1, m.end(quote) - 1, strict)
        elif token is not None:
            if m.end() >= len(text):
                raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {_byte(text, begin)}')
            if text[m.end()] not in _WS + ">":
                raise HtmlError(f"Unexpected end of name token at byte offset {_byte(text, m.start('token'))}")
            value = token.lower()
        else:
            value = ""  # a flag such as `expandable`
        attrs[name] = value
        j = m.end()


def _close(entities: list[dict[str, Any]], tag: str, attrs: dict[str, str], offset: int, length: int,
           inner: str) -> None:
    entity: dict[str, Any] = {"type": _TAGS[tag], "offset": offset, "length": length}
    last = entities[-1] if entities and (entities[-1]["offset"], entities[-1]["length"]) == (offset, length) else None
    if tag == "a":
        try:  # Telegram drops a link it cannot check (tel:, localhost) and keeps the text: telegram_links.py
            entity["url"] = check_link(attrs.get("href") or inner)
        except LinkError:
            return
    elif tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = attrs["emoji-id"]
    elif tag == "tg-time":
        entity.update(unix_time=int(attrs["unix"]), **({"date_time_format": attrs["format"]} if "format" in attrs
                                                         else {}))
    elif tag == "code":
        language = attrs.get("class", "")[9:] if attrs.get("class", "").startswith("language-") else ""
        if last and last["type"] == "pre" and language:  # <code class=language-x><pre>..</pre></code>
            last["language"] = language
            return
        entity["_language"] = language
    elif tag == "pre" and last and last["type"] == "code" and last.get("_language"):  # <pre><code class=..>
        last.update(type="pre", language=last.pop("_language"))
        return
    entities.append(entity)


def _trim(plain: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram drops leading and trailing whitespace; entities are cut to what is left."""
    stripped = plain.strip(" \t\r\n")
    if stripped == plain:
        return plain, entities
    cut, size = _u16(plain[:len(plain) - len(plain.lstrip(" \t\r\n"))]), _u16(stripped)
    kept = []
    for e in entities:
        start, end = max(0, e["offset"] - cut), min(size, e["offset"] + e["length"] - cut)
        if end > start:
            kept.append({**e, "offset": start, "length": end - start})
    return stripped, kept


def render(message: Message) -> str:
    """The message as a chat shows it: plain text, then one line per keyboard row."""
    lines = [message.plain]
    for row in (message.reply_markup or {}).get("inline_keyboard", []):
        lines.append("  " + "  ".join(f"[{b.get('text')} -> {b.get('url') or b.get('callback_data') or '...'}]"
                                      for b in row))
    return "\n".join(lines)


# --- the fake ----------------------------------------------------------------------------------------------


class FakeTelegram(LocalHttpFake):
    """The fake Bot API for one bot. Thread-safe; start()/stop() or use as a context manager."""

    name = "fake-telegram"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        bot_username: str = "leadcaller_fake_bot",
        rate_limit: bool = True,
        chat_rate: float = 1.0,  # messages per second per chat, after the burst
        chat_burst: int = 3,
        group_per_minute: int = 20,  # groups and supergroups
        global_per_second: int = 30,
        edit_window: float = 48 * 3600.0,  # older messages: "message can't be edited"
        strict_entities: bool = True,  # reject `&nbsp;` and bare `&` (Telegram shows them literally)
        latency: float = 0.0,  # added to every request
        timeout_delay: float = 2.0,  # how long a `timeout` fault holds the answer
        echo: bool = False,  # print every sent/edited message as the chat shows it (the demo)
        verbose: bool = False,  # log HTTP requests to stderr
    ) -> None:
        self.host, self.port = host, port
        self.token = token or f"{secrets.randbelow(9 * 10 ** 9) + 10 ** 9}:AA{secrets.token_urlsafe(25)[:33]}"
        self.bot = {"id": int(self.token.split(":")[0]) if self.token.split(":")[0].isdigit() else 1,
                    "is_bot": True, "first_name": "Leadcaller (fake)", "username": bot_username}
        self.rate_limit, self.chat_rate, self.chat_burst = rate_limit, chat_rate, chat_burst
        self.group_per_minute, self.global_per_second = group_per_minute, global_per_second
        self.edit_window, self.strict_entities = edit_window, strict_entities
        self.latency, self.timeout_delay, self.echo, self.verbose = latency, timeout_delay, echo, verbose

        self._lock = threading.RLock()
        self._chats: dict[int, _Chat] = {}
        self._messages: dict[int, dict[int, Message]] = defaultdict(dict)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._requests: list[RecordedRequest] = []
        self._faults: dict[str, deque[tuple[str, int]]] = defaultdict(deque)
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)
        self._group_sent: dict[int, deque[float]] = defaultdict(deque)
        self._global_sent: deque[float] = deque()
        self._too_many = 0
        self._offset = 0.0  # advance()
        super().__init__()

    # lifecycle -------------------------------------------------------------------------------------------


    @property
    def url(self) -> str:
        """The API base (TELEGRAM_API_URL); clients append ``/bot<token>/<method>``."""
        if self._server is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://{self.host}:{self.port}"

    # chats ----------------------------------------------------------------------------------------------
    def add_chat(self, chat_id: int, type: str = "private", *, title: str | None = None,
                 username: str | None = None) -> None:
        """A chat the bot can write to; ``title`` is the first name for a private chat."""
        if type not in CHAT_TYPES:
            raise ValueError(f"unknown chat type {type!r}; choose from {CHAT_TYPES}")
        with self._lock:
            self._chats[int(chat_id)] = _Chat(int(chat_id), type, title or f"Chat {chat_id}",
                                              username.lstrip("@") if username else None)

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """The group became a supergroup: the old id answers 400 with ``migrate_to_chat_id``, the new id works."""
        with self._lock:
            old = self._chats[int(old_id)]
            old.migrated_to = int(new_id)
            self._chats[int(new_id)] = _Chat(int(new_id), "supergroup", old.title, old.username)

    def block_chat(self, chat_id: int, text: str | None = None) -> None:
        """Sends to the chat answer 403 ``text``; by default "blocked by the user" for a private chat and "kicked"
        for a group, supergroup or channel (see ``KICKED``)."""
        with self._lock:
            chat = self._chats[int(chat_id)]
            chat.blocked = text or KICKED[chat.type]

    def unblock_chat(self, chat_id: int) -> None:
        with self._lock:
            self._chats[int(chat_id)].blocked = None

    # test controls and inspection -------------------------------------------------------------------------
    def fail_next(self, method: str, kind: str, times: int = 1, *, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` (``"*"`` = any) with fault ``kind``. ``timeout`` sends the
        message (it IS stored) but holds the answer ``timeout_delay`` s; ``drop`` closes the connection before
        anything happens; ``http429`` carries ``retry_after``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {FAULT_KINDS}")
        with self._lock:
            self._faults[method.lower()].extend([(kind, retry_after)] * times)

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward: messages age, rate-limit windows refill; nothing sleeps."""
        with self._lock:
            self._offset += seconds

    def messages(self, chat_id: int) -> list[Message]:
        """Copies of the messages stored for ``chat_id``, oldest first."""
        with self._lock:
            return [copy.deepcopy(m) for _, m in sorted(self._messages.get(int(chat_id), {}).items())]

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def too_many_requests(self) -> int:
        """How many 429s the rate limiter gave (scripted ``http429`` faults not included)."""
        with self._lock:
            return self._too_many

    def reset(self) -> None:
        """Forget requests, messages, pending faults, rate-limit state and the clock offset (keeps chats,
        their blocks and migrations, the token and settings)."""
        with self._lock:
            for store in (self._messages, self._message_ids, self._requests, self._faults, self._buckets,
                          self._group_sent, self._global_sent):
                store.clear()
            self._too_many, self._offset = 0, 0.0


    # HTTP ------------------------------------------------------------------------------------------------
    def _handle(self, h: _Handler) -> None:
        received = time.monotonic()
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        match = _PATH.fullmatch(split.path)
        if match is None:
            return self._send(h, None, 404, ApiError(404, "Not Found").body())
        token, method = match.group(1), _METHODS.get(match.group(2).lower(), match.group(2))
        try:
            params, parse_error = _parse_params(split.query, body, h.headers.get("Content-Type", "")), None
        except ValueError:
            params, parse_error = {}, ApiError(400, "Bad Request: can't parse JSON object")
        rec = RecordedRequest(h.command, method, params, token, received)
        with self._lock:
            self._requests.append(rec)
            queue = self._faults.get(method.lower()) or self._faults.get("*")
            fault, retry_after = queue.popleft() if queue else (None, 0)
            rec.fault = fault
        if self.latency:
            self._stopping.wait(self.latency)

        if fault == "drop":
            h.close_connection = True  # nothing written: the client sees the connection closed
            return
        if fault == "http5xx":
            return self._send(h, rec, 502, _BAD_GATEWAY, "text/html")
        shown: Message | None = None
        try:
            if fault in ("http429", "chat_not_found", "blocked", "unauthorized", "button_url_invalid"):
                raise {"http429": ApiError(429, f"Too Many Requests: retry after {retry_after}",
                                           {"retry_after": retry_after}),
                       "chat_not_found": ApiError(400, "Bad Request: chat not found"),
                       "blocked": ApiError(403, BLOCKED), "unauthorized": ApiError(401, "Unauthorized"),
                       # Telegram's servers refusing a button URL that passed tdlib's check (the MTProto
                       # error passed through: rubenlagus/TelegramBots#302, EverythingSuckz/TG-FileStreamBot#44).
                       "button_url_invalid": ApiError(400, "Bad Request: BUTTON_URL_INVALID")}[fault]
            if not secrets.compare_digest(token.encode(), self.token.encode()):
                raise ApiError(401, "Unauthorized")
            if parse_error:
                raise parse_error
            with self._lock:
                if method == "getMe":
                    # The User object plus the fields "Returned only in getMe" (Bot API, User).
                    result: dict[str, Any] = {**self.bot, "can_join_groups": True,
                                              "can_read_all_group_messages": False, "supports_inline_queries": False,
                                              "can_connect_to_business": False, "has_main_web_app": False}
                elif method in ("sendMessage", "editMessageText"):
                    shown = self._send_message(params) if method == "sendMessage" else self._edit(params)
                    result = self._message_json(shown)
                else:
                    raise ApiError(404, "Not Found")
            status, answer = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, answer = exc.status, exc.body()
        if shown is not None and self.echo:
            edited = " (edited)" if shown.edit_date else ""
            print(f"--- chat {shown.chat_id}, message {shown.message_id}{edited} ---\n{render(shown)}", flush=True)
        if fault == "timeout":
            self._stopping.wait(self.timeout_delay)  # the work is done; only the answer is late
        self._send(h, rec, status, answer)

    def _send(self, h: _Handler, rec: RecordedRequest | None, status: int, answer: dict[str, Any] | bytes,
              content_type: str = _JSON) -> None:
        body = answer if isinstance(answer, bytes) else json.dumps(answer, ensure_ascii=False).encode()
        if rec is not None:
            with self._lock:
                rec.status = status
        try:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): that is the scenario being tested

    # methods (called with the lock held) -----------------------------------------------------------------
    def _now(self) -> float:
        return time.time() + self._offset

    def _chat(self, value: Any) -> _Chat:
        raw = str(value if value is not None else "").strip()
        if not raw:
            raise ApiError(400, "Bad Request: chat_id is empty")
        if raw.startswith("@"):
            chat = next((c for c in self._chats.values() if c.username and c.username.lower() == raw[1:].lower()
                         and c.migrated_to is None), None)
        else:
            chat = self._chats.get(int(raw)) if re.fullmatch(r"-?\d+", raw) else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.migrated_to is not None:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": chat.migrated_to})
        if chat.blocked:
            raise ApiError(403, chat.blocked)
        return chat

    def _content(self, params: dict[str, Any]) -> Version:
        text = params.get("text")
        text = "" if text is None else str(text)
        mode = params.get("parse_mode") or None
        if mode is not None and str(mode).lower() not in ("html", "markdown", "markdownv2"):
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        if mode is not None and str(mode).lower() == "html":
            try:
                plain, entities = parse_html(text, strict_entities=self.strict_entities)
            except HtmlError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        else:  # plain text; Markdown modes are stored unparsed (the fake does not implement them)
            plain, entities = text, [dict(e) for e in params.get("entities") or [] if isinstance(e, dict)]
        plain, entities = _trim(plain, entities)
        if not plain:
            raise ApiError(400, "Bad Request: message text is empty")
        if len(plain) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return Version(text, plain, entities, mode, _reply_markup(params.get("reply_markup")), int(self._now()))

    def _send_message(self, params: dict[str, Any]) -> Message:
        chat = self._chat(params.get("chat_id"))
        content = self._content(params)
        self._take_rate(chat, sending=True)
        message = Message(next(self._message_ids[chat.id]), chat.id, content.at, content.text, content.plain,
                          content.entities, content.parse_mode, content.reply_markup,
                          _flag(params.get("disable_notification")), _object(params.get("link_preview_options")))
        self._messages[chat.id][message.message_id] = message
        return message

    def _edit(self, params: dict[str, Any]) -> Message:
        if params.get("message_id") in (None, "") and not params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: message identifier is not specified")
        chat = self._chat(params.get("chat_id"))
        content = self._content(params)
        raw_id = str(params.get("message_id"))
        message = self._messages[chat.id].get(int(raw_id)) if re.fullmatch(r"-?\d+", raw_id) else None
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if self._now() - message.date > self.edit_window:
            raise ApiError(400, "Bad Request: message can't be edited")
        if (content.plain, content.entities, content.reply_markup) == (
                message.plain, message.entities, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        self._take_rate(chat, sending=False)
        message.edits.append(Version(message.text, message.plain, message.entities, message.parse_mode,
                                     message.reply_markup, message.edit_date or message.date))
        message.text, message.plain, message.entities = content.text, content.plain, content.entities
        message.parse_mode, message.reply_markup, message.edit_date = (content.parse_mode, content.reply_markup,
                                                                       content.at)
        if "link_preview_options" in params:
            message.link_preview_options = _object(params["link_preview_options"])
        return message

    def _take_rate(self, chat: _Chat, *, sending: bool) -> None:
        """Bots FAQ limits: a per-chat token bucket, 20/min per group (sends only) and 30/s overall."""
        if not self.rate_limit:
            return
        now = time.monotonic() + self._offset
        tokens, at = self._buckets.get(chat.id, (float(self.chat_burst), now))
        tokens = min(float(self.chat_burst), tokens + (now - at) * self.chat_rate)
        waits = [(1 - tokens) / self.chat_rate] if tokens < 1 else []
        group = self._group_sent[chat.id]
        while group and group[0] <= now - 60:
            group.popleft()
        if sending and chat.type in ("group", "supergroup") and len(group) >= self.group_per_minute:
            waits.append(group[0] + 60 - now)
        while self._global_sent and self._global_sent[0] <= now - 1:
            self._global_sent.popleft()
        if len(self._global_sent) >= self.global_per_second:
            waits.append(self._global_sent[0] + 1 - now)
        if waits:
            self._too_many += 1
            retry_after = max(1, math.ceil(max(waits) - 1e-6))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        self._buckets[chat.id] = (tokens - 1, now)
        if sending:
            group.append(now)
        self._global_sent.append(now)

    def _message_json(self, m: Message) -> dict[str, Any]:
        chat = self._chats[m.chat_id]
        data: dict[str, Any] = {"message_id": m.message_id}
        data.update({"sender_chat": chat.as_json()} if chat.type == "channel" else {"from": dict(self.bot)})
        data.update(chat=chat.as_json(), date=m.date)
        if m.edit_date:
            data["edit_date"] = m.edit_date
        data["text"] = m.plain
        if m.entities:
            data["entities"] = copy.deepcopy(m.entities)
        if m.link_preview_options:
            data["link_preview_options"] = dict(m.link_preview_options)
        if m.reply_markup:
            data["reply_markup"] = copy.deepcopy(m.reply_markup)
        return data


def _parse_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Query string, then a JSON or form body; JSON-serialized fields of form/query requests are decoded."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if body and content_type.startswith("application/json"):
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("JSON body is not an object")
        params.update(data)
    elif body and content_type.startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for name in ("reply_markup", "link_preview_options", "entities"):
        if isinstance(params.get(name), str) and params[name].strip()[:1] in ("{", "["):
            try:
                params[name] = json.loads(params[name])
            except ValueError:
                pass  # refused where it is used
    return params


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _object(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, dict) else None


def _reply_markup(value: Any) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    if not isinstance(value, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    rows = value.get("inline_keyboard")
    if rows is None:
        return copy.deepcopy(value)  # reply keyboards etc.: stored as given
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, 'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of '
                            'Arrays')
    rows = copy.deepcopy(rows)  # URLs are kept as Telegram normalises them; the recorded request stays as sent
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise ApiError(400, 'Bad Request: can\'t parse inline keyboard button: Field "text" must be of type String')
        if not any(action in button for action in _BUTTON_ACTIONS):
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the "
                                "inline keyboard")
        if "url" in button:  # tdlib's check, and the URL as Telegram keeps it: telegram_links.py
            if not isinstance(button["url"], str):  # the wording seen in nexor/telega#29
                raise ApiError(400, 'Bad Request: can\'t parse inline keyboard button: Field "url" must be of type '
                                    'String')
            try:
                button["url"] = check_link(button["url"])
            except LinkError as exc:
                raise ApiError(400, button_error(button["url"], str(exc))) from None
        if "callback_data" in button and not 1 <= len(str(button["callback_data"]).encode()) <= 64:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return {"inline_keyboard": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local fake of the Telegram Bot API (demo/tests).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8103)
    parser.add_argument("--token", default=None, help="bot token (random when omitted)")
    parser.add_argument("--chat", type=int, action="append", default=[],
                        help="a chat id to accept (repeatable): -100... supergroup, other negative group, else private")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--no-rate-limit", action="store_true", help="switch the Bots FAQ limits off")
    args = parser.parse_args(argv)

    fake = FakeTelegram(host=args.host, port=args.port, token=args.token, latency=args.latency,
                        rate_limit=not args.no_rate_limit, echo=True)
    for chat_id in args.chat:
        kind = "supergroup" if str(chat_id).startswith("-100") else "group" if chat_id < 0 else "private"
        fake.add_chat(chat_id, kind, title=f"Demo {kind} {chat_id}")
    with fake:
        print(f"Fake Telegram Bot API: {fake.url}  (TELEGRAM_API_URL)", flush=True)
        print(f"Bot token: {fake.token}  (TELEGRAM_BOT_TOKEN)")
        print(f"Chats: {', '.join(map(str, args.chat)) or 'none'}; rate limit {'off' if args.no_rate_limit else 'on'}."
              " Ctrl+C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")


if __name__ == "__main__":
    main()
