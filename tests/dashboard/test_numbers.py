"""Figures that fit their tiles: grouped digits, no cents on large sums, compact units, in the viewer's language."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from dashboard.numbers import count_text, money_text, percent_text


@pytest.mark.parametrize("language, figures", [
    ("en", ["12,345", "1.2 M", "999.50", "28,289", "833 K", "18.1 M", "2.5 bn", "57.6 %"]),
    ("ru", ["12\xa0345", "1,2 млн", "999,50", "28\xa0289", "833 тыс.", "18,1 млн", "2,5 млрд", "57,6 %"]),
])
def test_counts_and_sums_are_grouped_then_shortened_in_the_viewers_language(language, figures):
    with translation.override(language):
        shown = [count_text(12345), count_text(1_234_567), money_text(Decimal("999.50")),
                 money_text(Decimal("28289.33")), money_text(Decimal("833000.10")),
                 money_text(Decimal("18100000")), money_text(Decimal("2500000000")), percent_text(0.5764)]

    assert shown == figures
