"""Phone numbers as visitors type them, read with libphonenumber."""

from __future__ import annotations

import re

import phonenumbers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class PhoneError(ValueError):
    """The text cannot be a phone number; the message is fit to show to the visitor."""


def phone_normalize(raw: str, *, region: str) -> str:
    """E.164 form of `raw`, reading numbers without a country code as `region`'s.

    Only impossible numbers are refused here (wrong length, letters). Whether a number may be
    called (valid, in an allowed region) is the calling step's decision, so such leads are still kept.
    """
    text = raw.strip()
    if not text:
        raise PhoneError(_("Enter a phone number."))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise PhoneError(_("This is not a phone number.")) from None
    if not phonenumbers.is_possible_number(number):
        raise PhoneError(_("This phone number has the wrong number of digits."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_T = phonenumbers.PhoneNumberType
# The kinds of numbers a site may allow to be called, by libphonenumber's type. Premium-rate and
# unknown numbers are not among them: no site needs to call them, and they are what toll fraud dials.
NUMBER_TYPES = {
    "mobile": (_T.MOBILE, gettext_lazy("mobile")),
    "fixed_line": (_T.FIXED_LINE, gettext_lazy("fixed line")),
    "toll_free": (_T.TOLL_FREE, gettext_lazy("toll-free (the callee pays)")),
    "voip": (_T.VOIP, gettext_lazy("VoIP")),
    "personal_number": (_T.PERSONAL_NUMBER, gettext_lazy("personal number (forwarded)")),
    "uan": (_T.UAN, gettext_lazy("universal access number (a company's)")),
    "shared_cost": (_T.SHARED_COST, gettext_lazy("shared cost")),
    "pager": (_T.PAGER, gettext_lazy("pager")),
}
_NAMES = {
    **{number_type: code for code, (number_type, _label) in NUMBER_TYPES.items()},
    _T.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile", _T.PREMIUM_RATE: "premium_rate", _T.VOICEMAIL: "voicemail",
}


def number_type_code(number: phonenumbers.PhoneNumber) -> str:
    """libphonenumber's type of a valid number, as one of our codes (`premium_rate`, `unknown`...)."""
    return _NAMES.get(phonenumbers.number_type(number), "unknown")


def number_type_allowed(code_of_number: str, allowed: tuple[str, ...]) -> bool:
    """Whether a number of this type may be called. Some ranges (the USA's) do not tell mobile from
    fixed line; such a number is allowed when either kind is."""
    if code_of_number == "fixed_line_or_mobile":
        return "mobile" in allowed or "fixed_line" in allowed
    return code_of_number in allowed


def phone_mask(e164: str) -> str:
    """`+79123451234` -> `+7 ••• •••-12-34`: the country code and the last four digits, never the
    number's length, so that a message read over a seller's shoulder gives no one the number."""
    digits = "".join(ch for ch in e164 if ch.isdigit())
    tail = f"{digits[-4:-2]}-{digits[-2:]}" if len(digits) >= 4 else ""
    try:
        country = f"+{phonenumbers.parse(e164, None).country_code} "
    except phonenumbers.NumberParseException:
        country = ""
    return f"{country}••• •••-{tail}" if tail else "••• •••"


_SEARCHABLE = re.compile(r"^\+?[\d\s().-]{7,30}$")


def phone_search_term(term: str, *, region: str) -> str | None:
    """The E.164 number a search box's text means (`89124001000`, `9124001000`, `8 912 400-10-00` all
    mean +79124001000 in RU), or None when the text is not a whole phone number (a name, a ref)."""
    text = term.strip()
    if not _SEARCHABLE.match(text) or sum(ch.isdigit() for ch in text) < 7:
        return None
    try:
        return phone_normalize(text, region=region)
    except PhoneError:
        return None
