"""Phone numbers as visitors type them, read with libphonenumber."""

from __future__ import annotations

import phonenumbers
from django.utils.translation import gettext as _


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
