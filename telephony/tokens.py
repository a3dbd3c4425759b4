"""Per-attempt tokens: what the scenario sends back to prove it speaks for that attempt.

An HMAC of the attempt id under VOXIMPLANT_CALLBACK_SECRET; the secret itself never leaves the server.
A probe call's token (the admin's test call) is made under another name, so it never opens a real attempt, nor the reverse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from django.conf import settings


def attempt_token(attempt_id: int) -> str:
    return _token("call-attempt", attempt_id)


def attempt_token_valid(attempt_id: int, token: str) -> bool:
    return _valid("call-attempt", attempt_id, token)


def probe_call_token(call_id: int) -> str:
    return _token("probe-call", call_id)


def probe_call_token_valid(call_id: int, token: str) -> bool:
    return _valid("probe-call", call_id, token)


def _token(kind: str, object_id: int) -> str:
    digest = hmac.new(settings.VOXIMPLANT_CALLBACK_SECRET.encode(), f"{kind}:{object_id}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _valid(kind: str, object_id: int, token: str) -> bool:
    # compare_digest takes ASCII text only (it raises TypeError on the rest); no token of ours has more.
    if not settings.VOXIMPLANT_CALLBACK_SECRET or not token or not token.isascii():
        return False
    return hmac.compare_digest(_token(kind, object_id).encode(), token.encode())
