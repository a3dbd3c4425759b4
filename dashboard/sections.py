"""The dashboard page's sections, top to bottom: a template each, and what it needs from the figures.

To add a section (a seller table, a chart), write its template under templates/dashboard/sections/,
and add it here with a function that returns its context (or None when the shared context is enough).
Every section sees the shared context (dashboard/views.py: period, query, totals, links, charts...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from django.http import HttpRequest

from dashboard import stats


@dataclass(frozen=True)
class Section:
    template: str
    # (request, period, shared context) -> the section's own context
    context: Callable[[HttpRequest, stats.Period, dict], dict] | None = None


SECTIONS: list[Section] = [
    Section("dashboard/sections/speed.html"),
    Section("dashboard/sections/tiles.html"),
    Section("dashboard/sections/refused.html"),
    Section("dashboard/sections/series.html"),
    Section("dashboard/sections/outcomes_and_sums.html"),
    Section("dashboard/sections/tables.html"),
]


def sections_context(request: HttpRequest, period: stats.Period, shared: dict) -> dict:
    """The shared context, with every section's own context added, and the templates in order."""
    context = dict(shared)
    for section in SECTIONS:
        if section.context:
            context.update(section.context(request, period, context))
    return {**context, "sections": [section.template for section in SECTIONS]}
