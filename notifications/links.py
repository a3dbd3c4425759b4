"""Which addresses a Telegram card may link to: only those a seller's phone can open.

Telegram refuses a button whose host has no dot (`localhost`, a Docker service name) and drops an
`<a href>` it cannot check (`tel:`, `localhost`) without a word (demo/fakes/telegram_links.py has
the rules and their sources). A loopback or private address passes Telegram's check but opens
nothing on a phone outside that network. So a card links public http(s) addresses only.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

# Names that never resolve on the public internet: RFC 6761 (localhost, test, invalid, example),
# RFC 6762 (local, mDNS), RFC 8375 (home.arpa), and ICANN's reserved `internal`.
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".test", ".invalid", ".example")


def public_url(url: str) -> bool:
    """True for an http(s) URL whose host is a public name (with a dot) or a global IP address."""
    parts = urlsplit(url)
    try:
        host, _port = parts.hostname, parts.port  # a malformed port raises
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        pass
    name = host.rstrip(".")
    return "." in name and not f".{name}".endswith(_PRIVATE_SUFFIXES)
