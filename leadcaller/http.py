"""What the provider clients share about a failed HTTP request."""

from __future__ import annotations

import requests
from urllib3.exceptions import NewConnectionError


def never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection was refused before a byte went out; False when it broke later, so
    the remote may have carried the request out (not idempotent calls must then reconcile)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def provider_timeout(default: tuple[float, float]) -> tuple[float, float]:
    """(connect, read) seconds for one provider request: the client's own, unless PROVIDER_TIMEOUT
    sets the read time (fault drills make a slow provider time out within a second)."""
    from django.conf import settings

    read = settings.PROVIDER_TIMEOUT
    return (min(default[0], read), read) if read else default
