"""Form builders' webhooks (Tilda, Elementor Pro, Contact Form 7 add-ons) read as intake fields.

Each builder posts its form to `/api/v1/leads/?key=<intake key>` in its own shape; this module
recognises the shape, flattens it into plain field names, reads the builder's own submission id
(an idempotency key) and applies the site's field mapping. Shapes, from the builders' docs:

- Tilda (https://help-ru.tilda.cc/forms/webhook): form-encoded fields as named in the form (`Name`,
  `Phone`, `Email`), plus `tranid` (the submission's id), `formid`, and `COOKIES` when the cookie
  option is on. On connection it posts `test=test` and expects 200; a receiver that does not answer
  (text "ok") within 5 s is tried twice more, a minute apart.
- Elementor Pro's Webhook action (modules/forms/actions/webhook.php): `wp_remote_post` of a PHP array,
  so form-encoded. "Advanced Data" off: fields by their labels plus the meta ("Page URL", "Remote IP",
  "User Agent"...) and `form_id`, `form_name`. On: `form[id]`, `form[name]`,
  `fields[<id>][title|value|raw_value|type|required]` and `meta[<key>][title|value]`. Anything but
  200 is an error to Elementor.
- Contact Form 7 through "CF7 to Webhook" (mariovalney/cf7-to-zapier): a JSON object of the form's
  field names (`your-name`, `your-email`, `your-tel`...), values as posted (checkboxes as lists).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Mapping

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.models import Lead, Site, SubmissionKey

BUILDERS = ("tilda", "elementor", "cf7", "generic")
# Field names the builders' default forms use (lower case), onto ours; the site's mapping wins.
_NAMES = {
    "phone": ("phone", "телефон", "tel", "your-phone", "your-tel", "mobile", "телефон для связи"),
    "name": ("name", "имя", "your-name", "fio", "фио", "ваше имя"),
    "email": ("email", "e-mail", "your-email", "почта"),
    "comment": ("message", "your-message", "comments", "comment", "комментарий", "сообщение", "textarea"),
    "order_amount": ("sum", "amount", "price", "сумма", "total"),
    "consent": ("consent", "согласие", "agreement"),
}
_META = {"page url": "page", "page_url": "page"}
_BRACKETS = re.compile(r"^(\w+)\[([^\[\]]*)\](?:\[([^\[\]]*)\])?$")
_KEY_MAX = 200


@dataclass
class BuilderPost:
    builder: str
    data: dict[str, Any]  # flat: our field names set where found, everything else as posted
    submission_id: str = ""
    test: bool = False  # a builder's connection test: answered, creates nothing
    reported_ip: str = ""
    reported_user_agent: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def builder_detect(data: Mapping[str, Any], *, source: str = "") -> str:
    """Which builder posted `data` ("" for a plain intake post). `source` (the `source` query
    parameter) names it outright."""
    if source in BUILDERS:
        return source
    keys = set(data.keys())
    if "tranid" in keys or "formid" in keys or keys - {"COOKIES"} == {"test"}:
        return "tilda"
    # `form_id` alone is a common field name in shops' own forms: Elementor sends it with `form_name`.
    if "form[id]" in keys or {"form_id", "form_name"} <= keys or any(str(k).startswith("fields[") for k in keys) \
            or (isinstance(data.get("fields"), Mapping) and "form" in keys):
        return "elementor"
    if "_wpcf7" in keys or any(str(k).startswith("your-") for k in keys):
        return "cf7"
    return ""


def builder_read(data: Mapping[str, Any], *, builder: str, site: Site | None) -> BuilderPost:
    """The post as plain fields. `site` (known from the intake key) brings its field mapping."""
    flat = _first_values(data)
    post = BuilderPost(builder=builder, data={})
    if builder == "tilda":
        post.test = set(flat) - {"COOKIES"} == {"test"}
        post.submission_id = str(flat.get("tranid") or "")
        _cookies_into(flat, str(flat.pop("COOKIES", "") or ""))
    elif builder == "elementor":
        flat = _elementor_flat(data, flat, post)
    post.data = _named(flat, mapping=(site.form_field_map if site else None) or {}, post=post)
    return post


def _named(flat: dict[str, Any], *, mapping: Mapping[str, str], post: BuilderPost) -> dict[str, Any]:
    by_lower = {str(k).strip().lower(): k for k in flat}
    out = dict(flat)
    for ours, names in _NAMES.items():
        if ours in out:
            continue
        for name in names:
            if name in by_lower:
                out[ours] = flat[by_lower[name]]
                break
    for ours, posted in mapping.items():
        key = by_lower.get(str(posted).strip().lower())
        if key is None:
            continue
        if ours == "submission_id":
            post.submission_id = str(flat[key] or "")
        else:
            out[ours] = flat[key]
    for key in list(out):
        lower = key.strip().lower()
        if key != lower and lower in _NAMES and lower in out:
            del out[key]  # `Phone` beside our `phone`: ours (perhaps from the mapping) is the one read
    return out


def _elementor_flat(data: Mapping[str, Any], flat: dict[str, Any], post: BuilderPost) -> dict[str, Any]:
    """Elementor's "Advanced Data" nests fields and meta; labels and ids both become names."""
    nested: dict[str, dict[str, dict[str, Any]]] = {}
    for key, value in flat.items():
        match = _BRACKETS.match(str(key))
        if match:
            group, name, attr = match.groups()
            nested.setdefault(group, {}).setdefault(name, {})[attr or ""] = value
    for group in ("fields", "meta", "form"):  # a JSON body carries them as objects
        if isinstance(data.get(group), Mapping):
            for name, value in data[group].items():
                nested.setdefault(group, {})[str(name)] = dict(value) if isinstance(value, Mapping) else {"": value}
    if not nested:
        out = {k: v for k, v in flat.items()}
        for label, ours in _META.items():
            for key in list(out):
                if key.strip().lower() == label:
                    out.setdefault(ours, out.pop(key))
        post.reported_ip = str(_pop_label(out, "remote ip") or "")
        post.reported_user_agent = str(_pop_label(out, "user agent") or "")
        return out
    out: dict[str, Any] = {}
    for name, attrs in nested.get("fields", {}).items():
        value = attrs.get("value", attrs.get("raw_value", attrs.get("", "")))
        out[name] = value
        title = str(attrs.get("title") or "").strip()
        if title and title not in out:
            out[title] = value
    meta = nested.get("meta", {})
    page = meta.get("page_url", {}).get("value")
    if page:
        out["page"] = page
    post.reported_ip = str(meta.get("remote_ip", {}).get("value") or "")
    post.reported_user_agent = str(meta.get("user_agent", {}).get("value") or "")
    form = nested.get("form", {})
    post.extra = {"form_id": form.get("id", {}).get("", ""), "form_name": form.get("name", {}).get("", "")}
    return out


def _pop_label(values: dict[str, Any], label: str) -> Any:
    for key in list(values):
        if key.strip().lower() == label:
            return values.pop(key)
    return None


def _cookies_into(flat: dict[str, Any], cookies: str) -> None:
    """Tilda's `COOKIES` (`name=value; ...`): UTM marks the form itself did not send."""
    for part in cookies.split(";"):
        name, _, value = part.strip().partition("=")
        if name.startswith("utm_") and value and not flat.get(name):
            flat[name] = value


def _first_values(data: Mapping[str, Any]) -> dict[str, Any]:
    getter = getattr(data, "get", None)
    return {str(key): getter(key) if getter else data[key] for key in data}


# --- Submission ids (idempotency keys) --------------------------------------------------------

def submission_key(builder: str, submission_id: str) -> str:
    """The stored key: the builder's name and its id (hashed when too long to store)."""
    submission_id = submission_id.strip()
    if not submission_id:
        return ""
    key = f"{builder}:{submission_id}"
    if len(key) > _KEY_MAX:
        key = f"{builder}:sha256:{hashlib.sha256(submission_id.encode()).hexdigest()}"
    return key


def submission_key_lead(*, site: Site, key: str) -> Lead | None:
    """The lead a live key made, whatever its state now."""
    since = timezone.now() - timedelta(days=settings.SUBMISSION_KEY_DAYS)
    found = SubmissionKey.objects.filter(site=site, key=key, created_at__gte=since).select_related("lead").first()
    return found.lead if found else None


def submission_key_bind_expired_clear(*, site: Site, key: str) -> None:
    """An expired row of `key` no longer answers, and must not block a new one."""
    since = timezone.now() - timedelta(days=settings.SUBMISSION_KEY_DAYS)
    SubmissionKey.objects.filter(site=site, key=key, created_at__lt=since).delete()


def submission_key_bind(*, site: Site, key: str, lead: Lead) -> Lead:
    """Record that `key` made (or named) `lead`; when another post bound it first, that post's lead.
    An expired row of the same key is replaced."""
    submission_key_bind_expired_clear(site=site, key=key)
    try:
        with transaction.atomic():
            SubmissionKey.objects.create(site=site, key=key, lead=lead)
    except IntegrityError:
        return submission_key_lead(site=site, key=key) or lead
    return lead


def submission_keys_purge() -> int:
    since = timezone.now() - timedelta(days=settings.SUBMISSION_KEY_DAYS)
    deleted, _ = SubmissionKey.objects.filter(created_at__lt=since).delete()
    return deleted
