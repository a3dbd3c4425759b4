"""Figures as the dashboard's tiles show them: short enough to fit a tile, in the viewer's locale.

Counts keep every digit, grouped (12,345 / 12 345) up to a million; order sums drop the cents from
1,000 up; larger counts and order sums from 100,000 up are compact (1.2 M, 1,2 млн). The tile's title
carries the full figure.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# (from, divisor, message): the first line that fits wins.
_COMPACT = ((10 ** 9, 10 ** 9, gettext_lazy("%(n)s bn")), (10 ** 6, 10 ** 6, gettext_lazy("%(n)s M")),
            (10 ** 5, 10 ** 3, gettext_lazy("%(n)s K")))


def grouped(value: int | float | Decimal, decimals: int | None = None) -> str:
    return formats.number_format(value, decimals, use_l10n=True, force_grouping=True)


def count_text(n: int) -> str:
    return compact(n) if abs(n) >= 10 ** 6 else grouped(n)


def money_text(amount: Decimal) -> str:
    """Cents below 1,000; whole units below 100,000; compact above."""
    if abs(amount) >= 10 ** 5:
        return compact(amount)
    return grouped(amount, 2 if abs(amount) < 1000 else 0)


def compact(value: int | float | Decimal) -> str:
    for threshold, divisor, message in _COMPACT:
        if abs(value) >= threshold:
            scaled = Decimal(value) / divisor
            decimals = 0 if abs(scaled) >= 100 else 1
            return str(message) % {"n": grouped(round(scaled, decimals), decimals)}
    return grouped(value)


def percent_text(rate: float) -> str:
    """0.4 -> "40.0 %" (a rate is a fraction of 1)."""
    return _("%(n)s %%") % {"n": formats.number_format(round(rate * 100, 1), 1, use_l10n=True)}


def duration_text(seconds: float | int | None) -> str:
    """Seconds as a person reads them: 14.5 s, 12 min, 5.6 h; a dash for none."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return _("%(n)s s") % {"n": formats.number_format(round(seconds, 1), 1)}
    if seconds < 3600:
        return _("%(n)s min") % {"n": formats.number_format(round(seconds / 60))}
    return _("%(n)s h") % {"n": formats.number_format(round(seconds / 3600, 1), 1)}
