"""The manager dashboard's page: the filter, then its sections (dashboard/sections.py), top to bottom.

Every view of the dashboard (this page, the chart JSON in dashboard/charts.py, the CSV in
dashboard/exports.py) reads the same filter (dashboard/filters.py) and asks dashboard/stats.py, which
aggregates in the database. Managers, administrators and superusers may look (dashboard/access.py).
"""

from __future__ import annotations

from django.contrib.auth.views import LogoutView
from django.urls import reverse_lazy
from django.utils import formats
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from dashboard import stats, tiles
from dashboard.access import ManagersOnly, dashboard_allowed, strict_csp  # noqa: F401  (the URLs use strict_csp)
from dashboard.charts import chart_urls, sum_charts
from dashboard.filters import DashboardFilter
from dashboard.links import NO_PARTNER, LeadLinks, leads_list_allowed
from dashboard.numbers import grouped
from dashboard.sections import sections_context
from leads.models import IntakeCounter


class DashboardPage(ManagersOnly, TemplateView):
    template_name = "dashboard/index.html"

    def get_context_data(self, **kwargs):
        form = DashboardFilter(self.request.GET or None)
        self.filter_refused = form.is_bound and not form.is_valid()
        period = form.period()
        query = self.request.GET.urlencode() if form.is_valid() else ""
        summary = stats.summary(period)
        totals = summary["totals"]
        speed = stats.speed_to_lead(period)
        approximate = speed.pop("approximate", False)  # from the daily rollups: within 4.9 %
        speed_texts = {key: duration_text(value) for key, value in speed.items() if key != "dialled"}
        links = LeadLinks(period, allowed=leads_list_allowed(self.request.user))
        shared = {
            **super().get_context_data(**kwargs), "form": form, "period": period, "query": query,
            "totals": totals, "speed": speed_texts, "speed_approximate": approximate, "dialled": speed["dialled"],
            "dialled_text": grouped(speed["dialled"]),
            "links": links, "charts": chart_urls(query),
            "speed_tiles": tiles.speed_tiles(speed_texts, approximate=approximate),
            "volume_tiles": tiles.volume_tiles(totals, links), "status_tiles": tiles.status_tiles(totals, links),
            "call_tiles": tiles.call_tiles(totals, links), "refused": refused_figures(totals["refused"]),
            "sum_charts": sum_charts(query, totals["order_sums"]),
            "partner_table": table(summary["partners"], "partner", _("no partner"), links),
            "site_table": table(summary["sites"], "site", "", links)}
        return sections_context(self.request, period, shared)

    def render_to_response(self, context, **kwargs):
        # A filter that is not valid (dates out of range, say) is a 400; the page still shows the
        # default range, with the form's error.
        return super().render_to_response(context, status=400 if self.filter_refused else 200, **kwargs)


class DashboardLogout(LogoutView):
    """Log out by POST (Django 5 refuses GET), back to the dashboard's own login page."""

    next_page = reverse_lazy("dashboard:login")


def table(rows: list[dict], group: str, blank: str, links: LeadLinks | None) -> dict:
    """Rows for a template or a CSV: a cell per currency present, so sums are never mixed; each row with
    the link to its leads (None without `links` or for a viewer who cannot open the lead list)."""
    currencies = sorted({currency for row in rows for currency in row["order_sums"]})
    key = f"{group}_id"
    return {"currencies": currencies, "rows": [
        {"name": row[f"{group}__name"] or blank, "leads": row["leads"], "reached": row["reached"],
         "reach_rate": row["reach_rate"], "percent": round(row["reach_rate"] * 100, 1),
         "url": links.url(**{key: row[key] or NO_PARTNER}) if links else None,
         "sums": [row["order_sums"].get(c, {"orders": 0, "sum": 0}) for c in currencies]} for row in rows]}


def refused_figures(refused: dict[str, int]) -> list[dict]:
    """Posts refused per reason, for the page (duplicates have their own figure among the totals)."""
    return [{"kind": kind, "label": IntakeCounter.Kind(kind).label, "count": count}
            for kind, count in refused.items() if kind != IntakeCounter.Kind.DUPLICATE]


def duration_text(seconds: float | int | None) -> str:
    """Seconds as a person reads them: 14.5 s, 12 min, 5.6 h; a dash for none."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return _("%(n)s s") % {"n": formats.number_format(round(seconds, 1), 1)}
    if seconds < 3600:
        return _("%(n)s min") % {"n": formats.number_format(round(seconds / 60))}
    return _("%(n)s h") % {"n": formats.number_format(round(seconds / 3600, 1), 1)}


