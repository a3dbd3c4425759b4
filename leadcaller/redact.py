"""Secrets and phone numbers out of log lines: intake keys and callback tokens (a query parameter or
a header), and full phone numbers (kept: the country and area code, the last two digits).

Used by the application's log formatters (leadcaller/logging.py) and gunicorn's access log
(leadcaller/gunicorn_conf.py). Plain text in, plain text out; no Django needed.
"""

from __future__ import annotations

import re

_QUERY_SECRET = re.compile(r"(?i)((?:^|[?&;])(?:key|token)=)[^&;#\s\"']*")
_KEY_HEADER = re.compile(r"(?i)(x-leadcaller-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+")
# E.164, as the project writes numbers: + and 8 to 15 digits.
_PHONE = re.compile(r"(?<![\w+])\+(\d{4})(\d{2,9})(\d{2})(?!\d)")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    # Each pattern only where its telltale character is: gunicorn redacts some 50 atoms per request.
    if "=" in text:
        text = _QUERY_SECRET.sub(r"\1" + REDACTED, text)
    if "leadcaller-key" in text.lower():
        text = _KEY_HEADER.sub(r"\1" + REDACTED, text)
    if "+" in text:
        text = _PHONE.sub(lambda m: f"+{m[1]}{'*' * len(m[2])}{m[3]}", text)
    return text
