"""What the provider clients share (their reuse, what a failed request means), and who sent a request to us."""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

Client = TypeVar("Client")
_clients = threading.local()


def client_kept(name: str, settings_key: Hashable, make: Callable[[], Client]) -> Client:
    """The client `make()` built for this thread, process and settings, built again when they change.
    Kept, its requests session keeps its connections open: a request does not wait for a new TCP and
    TLS handshake with the provider. Per thread, because a session is not safely shared between threads;
    per process id, so a forked worker never uses its parent's sockets."""
    kept: dict[str, tuple[Hashable, object]] = _clients.__dict__.setdefault("kept", {})
    key = (os.getpid(), settings_key)
    held = kept.get(name)
    if held is None or held[0] != key:
        held = kept[name] = (key, make())
    return held[1]  # type: ignore[return-value]


class ProviderSession(requests.Session):
    """A requests session that reads the environment's proxy and CA-bundle settings once per host.

    requests reads them again for every request (walking all of os.environ, then NO_PROXY), which cost
    a dial more CPU than building its JSON. The environment of a running process does not change, so
    the merged settings of a host are kept; what a request passes itself still goes into the key."""

    def __init__(self) -> None:
        super().__init__()
        self._merged: dict[tuple, dict[str, Any]] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[override]
        key = (urlsplit(url)[:2], tuple(sorted((proxies or {}).items())), stream, verify, cert)
        merged = self._merged.get(key)
        if merged is None:
            merged = self._merged[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return {**merged, "proxies": dict(merged["proxies"])}  # a copy: the adapter may change its own


def never_sent(exc: requests.RequestException) -> bool:
    """True when no connection was made (refused, or timed out while connecting), so not a byte went
    out; False when it broke later, so the remote may have carried the request out (not idempotent
    calls must then reconcile)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)


def provider_timeout(default: tuple[float, float]) -> tuple[float, float]:
    """(connect, read) seconds for one provider request: the client's own, unless PROVIDER_TIMEOUT
    sets the read time (fault drills make a slow provider time out within a second)."""
    from django.conf import settings

    read = settings.PROVIDER_TIMEOUT
    return (min(default[0], read), read) if read else default


# Headers a proxy adds: behind nginx on this machine every client would look like 127.0.0.1.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def direct_address(request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The peer's address when the request came straight to us; None when it came through a proxy
    (it carries a forwarding header) or the address is not one."""
    if any(request.META.get(name) for name in PROXY_HEADERS):
        return None
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return None


def client_ip(request) -> str:
    """The client's address by our NUM_PROXIES rule, the one intake's throttles use (DRF's): the
    peer when no proxy is declared, else the address the nearest declared proxy saw, counted from the
    right of X-Forwarded-For, so entries a client wrote there are never taken. Something that is not
    an address (a misdeclared NUM_PROXIES) falls back to the peer."""
    from rest_framework.throttling import BaseThrottle

    ident = BaseThrottle().get_ident(request) or ""
    try:
        return str(ipaddress.ip_address(ident.strip()))
    except ValueError:
        return request.META.get("REMOTE_ADDR", "")
