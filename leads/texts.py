"""Timeline entries and manual-handling reasons as codes with parameters, rendered in the reader's language.

A worker writes `text("taken", user="maria")`; the row keeps the code and the parameters (and, for
searching and for old readers, the English sentence). The admin renders the code's message in the
viewer's language. Rows written before codes existed, and entries other code still writes as plain
English, are read back by matching them against the registry's English messages (`text_parse`), so
they are translated too; a sentence no entry matches is shown as it was stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy


@dataclass(frozen=True)
class Entry:
    message: Promise
    # Parameters that are themselves stored sentences (a reason inside "…; next try at …").
    nested: tuple[str, ...] = ()
    # The English forms of a plural message (a lazy plural does not tell them).
    forms: tuple[str, ...] = ()


def _plural(singular: str, plural: str, count: str) -> Entry:
    return Entry(ngettext_lazy(singular, plural, count), forms=(singular, plural))


REGISTRY: dict[str, Entry] = {
    # What people do in the admin (leads/handling.py, leads/admin.py)
    "taken": Entry(_("taken by %(user)s")),
    "call_again": Entry(_("call again")),
    "call_now": Entry(_("call again now, outside calling hours")),
    "retry_crm": Entry(_("retry the CRM step")),
    "resend_card": Entry(_("resend the card")),
    "handled_comment": Entry(_("handled: %(outcome)s — %(comment)s")),
    "handled": Entry(_("handled: %(outcome)s")),
    "spam_comment": Entry(_("marked as spam or invalid — %(comment)s")),
    "spam": Entry(_("marked as spam or invalid")),
    "edited": Entry(_("edited: %(fields)s")),
    # Intake and the lead's life (leads/services.py, leads/erasure.py)
    "received_unknown_site": Entry(_("from %(domain)s (unknown site)")),
    "received": Entry(_("from %(domain)s")),
    "duplicate": Entry(_("second post with ref %(ref)s refused")),
    "partner_unknown": Entry(_("partner code %(code)s is not known: the lead has no partner")),
    "reached_by_phone": Entry(_("reached by phone")),
    "opted_out": Entry(_("opted out: %(reason)s"), nested=("reason",)),
    "erased": Entry(_("personal data erased")),
    # The step engine's wrappers around a step's own sentence (leads/pipeline.py)
    "next_try": Entry(_("%(reason)s; next try at %(at)s"), nested=("reason",)),
    "gave_up": Entry(_("%(reason)s (gave up after %(n)s tries)"), nested=("reason",)),
    # The call step (telephony/services.py)
    "calling_off": Entry(_("Automatic calling is not configured; call the lead by hand.")),
    "no_hours": Entry(_("There are no calling hours in the next three weeks.")),
    "outside_hours": Entry(_("outside calling hours")),
    "vox_unconfirmed": Entry(_("VoxImplant did not confirm the call: %(error)s")),
    "vox_refused_for_now": Entry(_("VoxImplant refused the call for now: %(error)s")),
    "vox_refused": Entry(_("VoxImplant refused the call: %(error)s")),
    "call_unknown": Entry(_("Cannot tell whether call attempt %(n)d started: %(error)s")),
    "call_history_wait": Entry(_("Waiting for the call history to show attempt %(n)d")),
    "call_history_unreadable": Entry(_("No call result, and the call history cannot be read: %(error)s")),
    "call_in_progress": Entry(_("the call is still in progress")),
    "no_result_answered": Entry(_("The call was answered, but the scenario sent no result.")),
    "no_result_no_record": Entry(_("No call result, and VoxImplant has no record of the call.")),
    "reached_detail": Entry(_("reached: %(detail)s")),
    "reached": Entry(_("reached")),
    "opt_out_key": Entry(_("The person pressed the opt-out key.")),
    "not_reached": _plural("Not reached after %(n)d call (last: %(label)s).",
                           "Not reached after %(n)d calls (last: %(label)s).", "n"),
    "not_reached_no_hours": Entry(_("Not reached (%(label)s), and no calling hours soon.")),
    "call_next": Entry(_("%(label)s; call %(next)d of %(max)d")),
    "call_failed": Entry(_("The call failed: %(detail)s")),
    "call_back_key": Entry(_("The person pressed %(digit)s: call back now.")),
    "call_result": Entry(_("%(outcome)s")),
    "call_result_detail": Entry(_("%(outcome)s (%(detail)s)")),
    # The CRM step (leads/crm.py, leads/crm_leads.py)
    "crm_off": Entry(_("Bitrix24 is not connected; the lead is not sent to a CRM.")),
    "crm_lead": Entry(_("Bitrix24 lead %(id)s")),
    "crm_auth": Entry(_("Bitrix24 credentials are not valid: %(error)s")),
    "crm_refused": Entry(_("Bitrix24 refused the lead: %(error)s")),
    "crm_add_running": Entry(_("an earlier add may still be running in Bitrix24")),
    "crm_batch_silent": Entry(_("Bitrix24's batch answer did not mention this lead")),
    # The notification step (notifications/services.py)
    "telegram_off": Entry(_("Telegram is not connected; nobody is notified.")),
    "telegram_no_chat": Entry(_("No Telegram chat is set for this site.")),
    "card_queued": Entry(_("card queued for %(chat)s")),
}

# What the call scenario reports as `detail`, in plain words (telephony/voxengine/leadcaller.js).
CALL_DETAILS = {
    "amd:human": None, "amd human": None, "amd:voicemail": None, "amd voicemail": None,  # the outcome says it
    "amd:timeout": _("the answering-machine check could not tell, so it was treated as a person"),
    "hung up during detection": _("hung up while the answering-machine check was listening"),
    "session terminated": _("the call ended unexpectedly"),
}


@dataclass(frozen=True)
class Text:
    """A sentence to store: its code and parameters. str() renders it in the active language."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return text_render(self.code, self.params)

    def english(self) -> str:
        with translation.override("en"):
            return text_render(self.code, self.params)


def text(code: str, /, **params: Any) -> Text:
    if code not in REGISTRY:
        raise KeyError(f"no text registered as {code!r}")
    return Text(code, params)


def text_render(code: str, params: dict[str, Any], fallback: str = "") -> str:
    """The message of `code` in the active language; `fallback` (or the code) when it cannot be rendered."""
    entry = REGISTRY.get(code)
    if entry is None:
        return fallback or code
    values = {key: (message_render(value) if key in entry.nested else _param(value))
              for key, value in (params or {}).items()}
    if code in ("call_result", "call_result_detail"):
        values = _call_result_values(values)
        if code == "call_result_detail" and not values.get("detail"):
            return str(values["outcome"])
    try:
        return str(entry.message % values)
    except (KeyError, TypeError, ValueError):
        return fallback or code


def message_render(message: str) -> str:
    """A sentence stored as plain text (old rows, old-style writers), translated when the registry knows it."""
    parsed = text_parse(message)
    return text_render(*parsed, fallback=message) if parsed else message


def text_parse(message: str) -> tuple[str, dict[str, Any]] | None:
    """(code, params) of an English sentence that one of the registry's messages produced, else None."""
    for code, pattern in _patterns():
        match = pattern.fullmatch(message or "")
        if match:
            params = {key: int(value) if value.isdigit() else value for key, value in match.groupdict().items()}
            return code, params
    return None


def call_detail_words(detail: str) -> str:
    """The scenario's `detail` (`amd:TIMEOUT`, `486 Busy here`) in plain words where we know them."""
    key = (detail or "").strip().lower()
    if key in CALL_DETAILS:
        words = CALL_DETAILS[key]
        return str(words) if words else ""
    return detail or ""


def _call_result_values(values: dict[str, Any]) -> dict[str, Any]:
    from telephony.models import CallAttempt

    outcome = values.get("outcome", "")
    labels = dict(CallAttempt.Outcome.choices)
    return {**values, "outcome": str(labels.get(outcome, outcome)), "detail": call_detail_words(values.get("detail"))}


def _param(value: Any) -> Any:
    # A parameter that is itself one of our English words ("order placed", "no answer") reads in the
    # viewer's language too; anything else (a name, an error from a provider) stays as it is.
    return gettext(value) if isinstance(value, str) and value else value


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, re.Pattern]]:
    patterns = []
    with translation.override(None):  # the English source texts
        for code, entry in REGISTRY.items():
            for source in entry.forms or [str(entry.message)]:
                patterns.append((code, re.compile(_regex(source), re.S)))
    # Wrappers first (they hold another sentence), then the more fixed text the more specific.
    patterns.sort(key=lambda item: (not REGISTRY[item[0]].nested,
                                    -len(re.sub(r"\(\?P<\w+>[^)]*\)", "", item[1].pattern))))
    return [item for item in patterns if item[0] not in ("call_result", "call_result_detail")]


def _regex(source: str) -> str:
    parts = re.split(r"%\((\w+)\)([sd])", source)
    regex, seen = "", set()
    for index, part in enumerate(parts):
        if index % 3 == 0:
            regex += re.escape(part)
        elif index % 3 == 1:
            kind = parts[index + 1]
            if part in seen:
                regex += f"(?P={part})"
            else:
                regex += f"(?P<{part}>\\d+)" if kind == "d" else f"(?P<{part}>.+?)"
                seen.add(part)
    return regex
