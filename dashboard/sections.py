"""The dashboard page's sections, top to bottom: a template each, and what it adds to the context.

To add a section (a seller table, a chart), write its template under templates/dashboard/sections/
and add a Section here, with a function returning its own context when the shared one is not enough.
The shared context (dashboard/views.py): form, period, query, summary, totals, speed, dialled,
speed_approximate, links (dashboard/links.py: URLs of the matching leads), charts (chart URLs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from django.http import HttpRequest
from django.utils.translation import gettext as _

from dashboard import stats, tiles
from dashboard.charts import sum_charts
from dashboard.follow_up import follow_up_summary
from dashboard.numbers import grouped
from dashboard.sellers import seller_context
from dashboard.tables import table


@dataclass(frozen=True)
class Section:
    template: str
    # (request, period, shared context) -> the section's own context
    context: Callable[[HttpRequest, stats.Period, dict], dict] | None = None


def _speed(request, period, shared: dict) -> dict:
    return {"speed_tiles": tiles.speed_tiles(shared["speed"], approximate=shared["speed_approximate"]),
            "dialled_text": grouped(shared["dialled"])}


def _tiles(request, period, shared: dict) -> dict:
    totals, links = shared["totals"], shared["links"]
    return {"volume_tiles": tiles.volume_tiles(totals, links), "status_tiles": tiles.status_tiles(totals, links),
            "call_tiles": tiles.call_tiles(totals, links)}


def _refused(request, period, shared: dict) -> dict:
    return {"refused": tiles.refused_figures(shared["totals"]["refused"])}


def _sums(request, period, shared: dict) -> dict:
    return {"sum_charts": sum_charts(shared["query"], shared["totals"]["order_sums"])}


def _follow_up(request, period, shared: dict) -> dict:
    return {"follow_up": follow_up_summary(period)}


def _tables(request, period, shared: dict) -> dict:
    summary, links = shared["summary"], shared["links"]
    return {"partner_table": table(summary["partners"], "partner", _("no partner"), links),
            "site_table": table(summary["sites"], "site", "", links)}


SECTIONS: list[Section] = [
    Section("dashboard/sections/speed.html", _speed),
    Section("dashboard/sections/sellers.html", seller_context),
    Section("dashboard/sections/tiles.html", _tiles),
    Section("dashboard/sections/refused.html", _refused),
    Section("dashboard/sections/series.html"),
    Section("dashboard/sections/outcomes_and_sums.html", _sums),
    Section("dashboard/sections/follow_up.html", _follow_up),
    Section("dashboard/sections/tables.html", _tables),
]


def sections_context(request: HttpRequest, period: stats.Period, shared: dict) -> dict:
    """The shared context, with every section's own context added, and the templates in order."""
    context = dict(shared)
    for section in SECTIONS:
        if section.context:
            context.update(section.context(request, period, context))
    return {**context, "sections": [section.template for section in SECTIONS]}
