"""The manager dashboard: one page, three django-chartjs JSON views for its charts, CSV of its tables.

Every view reads the same filter (dashboard/filters.py) and asks dashboard/stats.py, which
aggregates in the database. Managers, administrators and superusers may look; other users get 403.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta

from chartjs.views.lines import BaseLineChartView
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.http import HttpResponse, HttpResponseBadRequest
from django.urls import reverse, reverse_lazy
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from dashboard import stats
from dashboard.follow_up import follow_up_summary
from dashboard.filters import DashboardFilter
from leadcaller import csp
from leadcaller.spreadsheet import spreadsheet_text
from leads.models import IntakeCounter
from leads.roles import DASHBOARD_GROUPS
from telephony.models import CallAttempt

# The page loads its script, styles and chart data from this server only: no inline code, no CDN.
CONTENT_SECURITY_POLICY = csp.POLICY
OUTCOME_COLOURS = {"human": "#1a7f37", "voicemail": "#bf8700", "no_answer": "#8c959f", "busy": "#fb8f44",
                   "failed": "#cf222e", "opted_out": "#6e7781", "": "#54aeff"}
CURRENCY_COLOURS = ["#1f6feb", "#8250df", "#bf3989", "#1a7f37", "#bc4c00"]


def dashboard_allowed(user) -> bool:
    return user.is_active and (user.is_superuser or user.groups.filter(name__in=DASHBOARD_GROUPS).exists())


def strict_csp(view):
    """Send the dashboard's Content-Security-Policy with every answer of `view`."""
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
    return wrapped


class ManagersOnly(LoginRequiredMixin, UserPassesTestMixin):
    login_url = reverse_lazy("dashboard:login")

    def test_func(self) -> bool:
        return dashboard_allowed(self.request.user)

    def filter_period(self) -> stats.Period | None:
        form = DashboardFilter(self.request.GET)
        return form.period() if form.is_valid() else None

    def dispatch(self, request, *args, **kwargs):
        return strict_csp(super().dispatch)(request, *args, **kwargs)


class DashboardPage(ManagersOnly, TemplateView):
    template_name = "dashboard/index.html"

    def get_context_data(self, **kwargs):
        form = DashboardFilter(self.request.GET or None)
        self.filter_refused = form.is_bound and not form.is_valid()
        period = form.period()
        query = self.request.GET.urlencode() if form.is_valid() else ""
        summary = stats.summary(period)
        partners, sites = summary["partners"], summary["sites"]
        speed = stats.speed_to_lead(period)
        approximate = speed.pop("approximate", False)  # from the daily rollups: within 4.9 %
        return {**super().get_context_data(**kwargs), "form": form, "period": period,
                "last_day": period.end - timedelta(days=1), "totals": summary["totals"],
                "speed": {key: duration_text(value) for key, value in speed.items()},
                "speed_approximate": approximate,
                "refused": refused_figures(summary["totals"]["refused"]),
                "query": query, "charts": chart_urls(query),
                "partner_table": table(partners, "partner__name", _("no partner")),
                "site_table": table(sites, "site__name", ""), "follow_up": follow_up_summary(period)}

    def render_to_response(self, context, **kwargs):
        # A filter that is not valid (dates out of range, say) is a 400; the page still shows the
        # default range, with the form's error.
        return super().render_to_response(context, status=400 if self.filter_refused else 200, **kwargs)


class ChartView(ManagersOnly, BaseLineChartView):
    """A django-chartjs view; its JSON is the `data` of a Chart.js chart."""

    def get(self, request, *args, **kwargs):
        self.period = self.filter_period()
        if self.period is None:
            return HttpResponseBadRequest(_("The filter is not valid."))
        self.rows = self.rows_for(self.period)
        return super().get(request, *args, **kwargs)

    def rows_for(self, period: stats.Period):
        raise NotImplementedError

    def get_context_data(self, **kwargs):
        return {"labels": self.get_labels(), "datasets": self.get_datasets()}


class SeriesChart(ChartView):
    """Leads and reached per day, or per hour for a one-day range; empty buckets are zeros."""

    def rows_for(self, period):
        counts = {_bucket_key(row["bucket"], period): row for row in stats.series(period)}
        return [(label, counts.get(key, {})) for key, label in _buckets(period)]

    def get_providers(self):
        return [_("Leads"), _("Reached")]

    def get_labels(self):
        return [label for label, _row in self.rows]

    def get_data(self):
        return [[row.get("leads", 0) for _label, row in self.rows], [row.get("reached", 0) for _label, row in self.rows]]

    def get_dataset_options(self, index, color):
        colour = ["#1f6feb", "#1a7f37"][index]
        return {"borderColor": colour, "backgroundColor": colour, "fill": False, "tension": 0.2}


class OutcomeChart(ChartView):
    """Leads by their latest call's outcome, for a doughnut."""

    def rows_for(self, period):
        return sorted(stats.outcome_breakdown(period).items(), key=lambda item: -item[1])

    def get_providers(self):
        return [_("Leads")]

    def get_labels(self):
        return [outcome_label(outcome) for outcome, _n in self.rows]

    def get_data(self):
        return [[n for _outcome, n in self.rows]]

    def get_dataset_options(self, index, color):
        return {"backgroundColor": [OUTCOME_COLOURS.get(outcome, "#8c959f") for outcome, _n in self.rows]}


class PartnerSumChart(ChartView):
    """Order sums per partner: one dataset per currency, never added across currencies."""

    def rows_for(self, period):
        return stats.by_partner(period)

    def currencies(self) -> list[str]:
        return sorted({currency for row in self.rows for currency in row["order_sums"]})

    def get_providers(self):
        return self.currencies()

    def get_labels(self):
        return [row["partner__name"] or _("no partner") for row in self.rows]

    def get_data(self):
        return [[float(row["order_sums"].get(currency, {}).get("sum", 0)) for row in self.rows]
                for currency in self.currencies()]

    def get_dataset_options(self, index, color):
        # Each currency on its own axis (static/js/dashboard.js makes one per yAxisID).
        colour = CURRENCY_COLOURS[index % len(CURRENCY_COLOURS)]
        return {"backgroundColor": colour, "borderColor": colour, "yAxisID": f"y{index}"}


class TableCsv(ManagersOnly, View):
    """The per-partner or per-site table as CSV: the numbers of the page, one column per currency."""

    group: str = ""

    def get(self, request, *args, **kwargs):
        period = self.filter_period()
        if period is None:
            return HttpResponseBadRequest(_("The filter is not valid."))
        if self.group == "partner":
            data = table(stats.by_partner(period), "partner__name", _("no partner"))
        else:
            data = table(stats.by_site(period), "site__name", "")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        first, last = period.start.date(), (period.end - timedelta(days=1)).date()
        response["Content-Disposition"] = f'attachment; filename="leads-by-{self.group}-{first}-{last}.csv"'
        writer = csv.writer(response)
        writer.writerow([self.heading, _("Leads"), _("Reached"), _("Conversion, %")]
                        + [f"{label} {currency}" for currency in data["currencies"]
                           for label in (_("Orders"), _("Order sum"))])
        for row in data["rows"]:
            writer.writerow([spreadsheet_text(row["name"]), row["leads"], row["reached"], row["percent"]]
                            + [value for cell in row["sums"] for value in (cell["orders"], cell["sum"])])
        return response


class PartnerCsv(TableCsv):
    group, heading = "partner", gettext_lazy("Partner")


class SiteCsv(TableCsv):
    group, heading = "site", gettext_lazy("Site")


def table(rows: list[dict], label: str, blank: str) -> dict:
    """Rows for a template or a CSV: a cell per currency present, so sums are never mixed."""
    currencies = sorted({currency for row in rows for currency in row["order_sums"]})
    return {"currencies": currencies, "rows": [
        {"name": row[label] or blank, "leads": row["leads"], "reached": row["reached"],
         "conversion": row["conversion"], "percent": round(row["conversion"] * 100, 1),
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


def outcome_label(outcome: str) -> str:
    return CallAttempt.Outcome(outcome).label if outcome in CallAttempt.Outcome.values else _("not called yet")


def chart_urls(query: str) -> dict[str, str]:
    suffix = f"?{query}" if query else ""
    return {name.replace("-", "_"): reverse(f"dashboard:{name}") + suffix
            for name in ("series", "outcomes", "partner-sums")}


def _buckets(period: stats.Period) -> list[tuple[object, str]]:
    """Every day (or hour) of the period in its zone: (key matching a series row, label)."""
    buckets = []
    if period.hourly:
        moment = period.start
        while moment < period.end:
            local = moment.astimezone(period.tz)
            buckets.append((local.replace(minute=0, second=0, microsecond=0, tzinfo=None), local.strftime("%H:%M")))
            moment += timedelta(hours=1)
        return buckets
    day, last = period.start.astimezone(period.tz).date(), (period.end - timedelta(seconds=1)).astimezone(period.tz).date()
    while day <= last:
        buckets.append((day, formats.date_format(day, "SHORT_DATE_FORMAT")))
        day += timedelta(days=1)
    return buckets


def _bucket_key(bucket, period: stats.Period):
    if isinstance(bucket, datetime):
        return bucket.astimezone(period.tz).replace(tzinfo=None)
    return bucket
