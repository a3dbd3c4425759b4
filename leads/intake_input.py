"""Reading a posted body into submissions: plain fields, or the ops of a Corezoid task envelope."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from django.core.files.uploadedfile import UploadedFile

FIELDS = (
    "phone", "name", "email", "comment", "order_amount", "currency", "site", "partner", "ref",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "extra",
    "consent", "consent_version", "consent_text", "page",
)
# Field names common in shop forms, mapped onto ours. Our own name wins when both are sent.
ALIASES = {
    "tel": "phone", "telephone": "phone",
    "fio": "name",
    "sum": "order_amount", "amount": "order_amount", "price": "order_amount",
}
# Read from the envelope's cookies when the form itself did not send them.
COOKIE_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "partner")
RAW_LIMIT = 16 * 1024
_IGNORED = {"csrfmiddlewaretoken"}
# PostgreSQL stores neither a NUL nor half of a UTF-16 surrogate pair (JSON's "\ud800" decodes to one).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Peer:
    """What the connection itself says about the sender, as opposed to what the body claims."""

    ip: str | None
    user_agent: str = ""
    origin: str = ""  # a browser's Origin header: it alone names the site when present
    referer: str = ""


@dataclass
class Submission:
    """One lead as posted, before validation."""

    fields: dict[str, Any]
    extra: dict[str, Any]
    peer: Peer
    hints: list[str]  # without an Origin, where the site may be read from, best first
    raw: dict[str, Any]
    ref: str = ""  # a Corezoid op's ref
    honeypot: bool = False
    op_meta: dict[str, Any] = field(default_factory=dict)
    # What an envelope's `server` says of the visitor: believed only with the site's intake key.
    reported_ip: str | None = None
    reported_user_agent: str = ""
    reported_referer: str = ""
    submission_key: str = ""  # a form builder's own id of the submission (leads/builders.py)


def ops_count(data: Any) -> int:
    """How many leads a body carries: an envelope's ops, else one."""
    ops = data.get("ops") if is_envelope(data) else None
    return len(ops) if isinstance(ops, list) else 1


class EnvelopeError(ValueError):
    """The body claims to be a Corezoid envelope but is not one."""


def is_envelope(data: Any) -> bool:
    return isinstance(data, Mapping) and "ops" in data


def split_fields(data: Mapping[str, Any], *, honeypot_field: str) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(our fields, everything else kept as extra, whether the honeypot was filled)."""
    values = _first_values(data)
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    honeypot = bool(str(values.pop(honeypot_field, "") or "").strip())
    for key, value in values.items():
        name = key.strip().lower()
        if name in FIELDS:
            fields[name] = value
        elif name not in ALIASES and name not in _IGNORED:
            extra[key] = value
    for key, value in values.items():
        canonical = ALIASES.get(key.strip().lower())
        if canonical:
            fields.setdefault(canonical, value)
    return fields, extra, honeypot


def envelope_submissions(data: Mapping[str, Any], *, honeypot_field: str, peer: Peer) -> list[Submission]:
    ops = data.get("ops")
    if not isinstance(ops, list) or not ops:
        raise EnvelopeError("'ops' must be a non-empty list of tasks.")
    return [_op_submission(op, honeypot_field, peer) for op in ops]


def _op_submission(op: Any, honeypot_field: str, peer: Peer) -> Submission:
    if not isinstance(op, Mapping):
        op = {}
    payload = op.get("data") if isinstance(op.get("data"), Mapping) else {}
    server, cookies, post = (_mapping(payload.get(part)) for part in ("server", "cookies", "post"))
    fields, extra, honeypot = split_fields(post, honeypot_field=honeypot_field)
    for name in COOKIE_FIELDS:
        if not fields.get(name) and cookies.get(name):
            fields[name] = cookies[name]
    if not fields.get("ref") and op.get("ref"):
        fields["ref"] = op["ref"]  # validated like a posted ref: it is stored and deduplicated on
    return Submission(
        fields=fields,
        extra=extra,
        peer=peer,
        hints=[str(fields.get("site") or ""),
               *(str(server.get(k) or "") for k in ("HTTP_ORIGIN", "HTTP_REFERER", "HTTP_HOST")), peer.referer],
        reported_ip=str(server.get("REMOTE_ADDR") or "") or None,
        reported_user_agent=str(server.get("HTTP_USER_AGENT") or ""),
        reported_referer=str(server.get("HTTP_REFERER") or ""),
        raw=raw_capture(dict(op)),
        ref=str(op.get("ref") or ""),
        honeypot=honeypot,
        op_meta={
            "valid": op.get("type", "create") == "create" and op.get("obj", "task") == "task",
            "conv_id": op.get("conv_id"),
        },
    )


def _mapping(value: Any) -> dict[str, Any]:
    # PHP's json_encode turns an empty array ($_COOKIE with no cookies) into [] rather than {}.
    return dict(value) if isinstance(value, Mapping) else {}


def _first_values(data: Mapping[str, Any]) -> dict[str, Any]:
    getter = getattr(data, "get", None)
    values = {key: getter(key) for key in data} if getter else dict(data)
    return {key: value for key, value in values.items() if not isinstance(value, UploadedFile)}


def raw_capture(value: Any) -> dict[str, Any]:
    """The request as received, for the admin, capped in size and safe to store as JSON."""
    value = scrub(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= RAW_LIMIT:
        return value if isinstance(value, dict) else {"value": value}
    return {"truncated": True, "text": text[:RAW_LIMIT]}


def scrub(value: Any) -> Any:
    """JSON-safe data: NUL characters and lone surrogates (which PostgreSQL cannot store) replaced,
    other objects as text."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {scrub(str(k)): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub(str(value))  # an uploaded file, say: its name is enough
