"""Per-attempt tokens: what the scenario sends back to prove it speaks for that attempt.

An HMAC of the attempt id under VOXIMPLANT_CALLBACK_SECRET; the secret itself never leaves the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from django.conf import settings


def attempt_token(attempt_id: int) -> str:
    digest = hmac.new(settings.VOXIMPLANT_CALLBACK_SECRET.encode(), f"call-attempt:{attempt_id}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def attempt_token_valid(attempt_id: int, token: str) -> bool:
    # compare_digest takes ASCII text only (it raises TypeError on the rest); no token of ours has more.
    if not settings.VOXIMPLANT_CALLBACK_SECRET or not token or not token.isascii():
        return False
    return hmac.compare_digest(attempt_token(attempt_id).encode(), token.encode())
