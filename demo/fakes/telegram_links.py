"""Telegram's check of a link: which URLs a button may carry, and which `<a href>` stay links.

Written from tdlib, the library the Bot API server runs on (github.com/tdlib/td):
`tdutils/td/utils/HttpUrl.cpp` (parse_url) and `td/telegram/LinkManager.cpp` (check_link), read at
commit 022d602 (2026-07). How the Bot API words the refusal: tdlib/telegram-bot-api
`telegram-bot-api/Client.cpp` (fail_query_with_error: "Bad Request: " and the first letter lowered).
What bots meet matches it:
- `localhost` and any host without a dot: "Wrong HTTP URL" (rubenlagus/TelegramBots#302, 2017, then
  still as BUTTON_URL_INVALID; grammY's tests and many 2024-2025 bot logs with "inline keyboard button
  URL 'http://localhost:3000/...' is invalid: Wrong HTTP URL");
- a scheme other than http(s) or tg (`ftp://`, an app's `happ://`): "Unsupported URL protocol"
  (BEDOLAGA-DEV/remnawave-bedolaga-telegram-bot#1564, #1701);
- IP addresses pass the check (they have dots; nyaruka/courier#1089 accepts them too), so a private
  address is refused by nobody: whether it opens anything is our own concern (notifications/links.py);
- `tel:+7...` has no `://`, so it reads as host `tel` with port `+7...`: "Wrong port number ...", and
  `tel:123` as host `tel`: "Wrong HTTP URL". Either way no button, and no link in a message.
In a message, `<a href>` whose URL fails the check is dropped without an error: the text stays,
unlinked (tdlib `td/telegram/MessageEntity.cpp`, parse_html, `get_checked_link`).
`ton:` and `tonsite:` links, which Telegram also takes, are not modelled (refused here).
"""

from __future__ import annotations

import ipaddress
import re

_SCHEME = re.compile(r"([^:/?#@\[\]]*)://")
_HOST_SYMBOLS = set("abcdefghijklmnopqrstuvwxyz0123456789.-_!$,~*'();&+=")
_SPACE = " \t\r\n\0\v"
_HEX = set("0123456789abcdef")


class LinkError(ValueError):
    """Telegram's reason, e.g. "Wrong HTTP URL"."""


def button_error(url: str, reason: str) -> str:
    """The Bot API's description of a refused URL button."""
    return f"Bad Request: inline keyboard button URL '{url}' is invalid: {reason}"


def check_link(url: str) -> str:
    """The URL as Telegram keeps it (scheme and host lower-cased, a path of at least "/"), or LinkError."""
    is_tg = url[:3].lower() == "tg:"
    rest = url[3:] if is_tg else url
    if is_tg and rest.startswith("//"):
        rest = rest[2:]
    scheme, userinfo, host, port, path = _parse(rest)
    if is_tg:
        if rest[:7].lower() == "http://" or scheme == "https" or userinfo or port or host.startswith("["):
            raise LinkError("Wrong tg URL")
        if not all(c.isascii() and (c.isalnum() or c in "-_") for c in host):
            raise LinkError("Unallowed characters in URL host")
        return f"tg://{host}{path[1:] if path.startswith('/?') else path}"
    if "." not in host and not host.startswith("["):
        raise LinkError("Wrong HTTP URL")
    return f"{scheme}://{userinfo + '@' if userinfo else ''}{host}{f':{port}' if port else ''}{path}"


def _parse(link: str) -> tuple[str, str, str, int, str]:
    """(scheme, userinfo, host, port given or 0, path): parse_url's reading; no scheme means http."""
    scheme, rest = "http", link
    match = _SCHEME.match(link)
    if match:
        scheme = match.group(1).lower()
        if scheme not in ("http", "https"):
            raise LinkError("Unsupported URL protocol")
        rest = link[match.end():]
    end = min([rest.index(c) for c in "/?#" if c in rest] or [len(rest)])
    authority, path = rest[:end], rest[end:]
    host_part, port = _port(authority)
    userinfo, _, host = host_part.rpartition("@")
    return scheme, userinfo, _host(host), port, _path(path)


def _port(authority: str) -> tuple[str, int]:
    i = len(authority) - 1
    while i > 0 and authority[i] not in ":]@":
        i -= 1
    if i <= 0 or authority[i] != ":":
        return authority, 0
    digits = authority[i + 1:]
    while len(digits) > 1 and digits[0] == "0":
        digits = digits[1:]
    if not (digits.isascii() and digits.isdigit() and 0 < int(digits) <= 65535):
        raise LinkError("Wrong port number specified in the URL")
    return authority[:i], int(digits)


def _host(host: str) -> str:
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise LinkError("Wrong IPv6 address specified in the URL") from None
        if not set(host[1:-1].lower()) <= _HEX | set(":."):
            raise LinkError("Wrong IPv6 URL host")
        return host.lower()
    if not host:
        raise LinkError("URL host is empty")
    if host == ".":
        raise LinkError("Host is invalid")
    host = "".join(c.lower() if c.isascii() else c for c in host)
    i = 0
    while i < len(host):
        c = host[i]
        if c == "%":
            if not (set(host[i + 1:i + 3]) <= _HEX and len(host[i + 1:i + 3]) == 2):
                raise LinkError("Wrong percent-encoded symbol in URL host")
            i += 2
        elif c not in _HOST_SYMBOLS and c.isascii():
            raise LinkError("Wrong URL host")
        i += 1
    return host


def _path(path: str) -> str:
    path = path.rstrip(_SPACE) or "/"
    encoded = "".join(f"%{ord(c):02X}" if ord(c) <= 0x20 else c for c in path)
    return encoded if encoded.startswith("/") else "/" + encoded
