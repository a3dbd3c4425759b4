"""Caller IDs: the number a call comes from, in the one form VoxEngine and the Management API accept.

VoxEngine's `callPSTN` refuses a caller ID with spaces, and takes only a number the account rents
or has verified; the Management API lists those as bare digits with the country code
(`74951234567`). So a caller ID is kept as exactly that, whatever way a person typed it.

No Django here: settings.py uses it before the apps are loaded.
"""

from __future__ import annotations

import re

import phonenumbers

_SEPARATORS = re.compile(r"[\s().\-]")


class CallerIdError(ValueError):
    """Not a caller ID. `ambiguous`: digits without a `+` that read as two different numbers."""

    def __init__(self, message: str, *, ambiguous: bool = False):
        super().__init__(message)
        self.ambiguous = ambiguous


def caller_id_normalize(raw: str, *, region: str) -> str:
    """`+7 (495) 123-45-67` or `74951234567` -> `74951234567`; "" stays "".

    Digits without a `+` are read with their country code first, as VoxImplant writes them. When
    `region`'s own reading of the same digits (`8 495 ...` in Russia) is a different valid number,
    the text is refused as ambiguous instead of guessed.
    """
    text = _SEPARATORS.sub("", raw or "")
    if not text:
        return ""
    if not re.fullmatch(r"\+?\d{6,15}", text):
        raise CallerIdError(f"{raw!r} is not a phone number: use digits with the country code, e.g. 74951234567.")
    international = _valid("+" + text.lstrip("+"), None)
    if text.startswith("+"):
        if international is None:
            raise CallerIdError(f"{raw!r} is not a valid phone number.")
        return international
    national = _valid(text, region)
    if international and national and international != national:
        raise CallerIdError(f"{raw!r} reads as +{international} or as +{national}: write it with a + and the "
                            "country code.", ambiguous=True)
    if not (international or national):
        raise CallerIdError(f"{raw!r} is not a valid phone number.")
    return international or national


def _valid(text: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
