"""The dashboard's django-chartjs views: each answers the `data` of one Chart.js chart as JSON."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from urllib.parse import urlencode

from chartjs.views.lines import BaseLineChartView
from django.http import HttpResponseBadRequest
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from dashboard import stats
from dashboard.access import ManagersOnly
from telephony.models import CallAttempt

OUTCOME_COLOURS = {"human": "#1a7f37", "voicemail": "#bf8700", "no_answer": "#8c959f", "busy": "#fb8f44",
                   "failed": "#cf222e", "opted_out": "#6e7781", "connected": "#0969da",
                   "seller_missed": "#d1242f", "": "#54aeff"}
CURRENCY_COLOURS = ["#1f6feb", "#8250df", "#bf3989", "#1a7f37", "#bc4c00"]
TOP_PARTNERS = 10


class ChartView(ManagersOnly, BaseLineChartView):
    """A django-chartjs view; its JSON is the `data` of a Chart.js chart."""

    def get(self, request, *args, **kwargs):
        self.period = self.filter_period()
        if self.period is None:
            return HttpResponseBadRequest(_("The filter is not valid."))
        refusal = self.refusal()
        if refusal:
            return HttpResponseBadRequest(refusal)
        self.rows = self.rows_for(self.period)
        return super().get(request, *args, **kwargs)

    def refusal(self) -> str | None:
        """Why the chart's own parameters cannot be answered (None: they can)."""
        return None

    def rows_for(self, period: stats.Period):
        raise NotImplementedError

    def get_context_data(self, **kwargs):
        return {"labels": self.get_labels(), "datasets": self.get_datasets()}


class SeriesChart(ChartView):
    """Leads and reached per day, or per hour for a one-day range, as bars; empty buckets are zeros and
    buckets that have not begun yet (later today) are left out."""

    def rows_for(self, period):
        counts = {_bucket_key(row["bucket"], period): row for row in stats.series(period)}
        return [(label, counts.get(key, {})) for key, label in buckets(period, now=timezone.now())]

    def get_providers(self):
        return [_("Leads"), _("Reached")]

    def get_labels(self):
        return [label for label, _row in self.rows]

    def get_data(self):
        return [[row.get(figure, 0) for _label, row in self.rows] for figure in ("leads", "reached")]

    def get_dataset_options(self, index, color):
        colour = ["#1f6feb", "#1a7f37"][index]
        return {"borderColor": colour, "backgroundColor": colour}


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
    """Order sums of one currency (`?currency=`): the top partners by sum, for a horizontal bar chart.
    One chart per currency, so sums in different currencies never share an axis."""

    def refusal(self):
        self.currency = self.request.GET.get("currency", "").upper()
        return None if self.currency else _("Name the currency: ?currency=RUB, say.")

    def rows_for(self, period):
        return stats.partner_sums(period, self.currency)[:TOP_PARTNERS]

    def get_providers(self):
        return [self.currency]

    def get_labels(self):
        return [row["partner__name"] or _("no partner") for row in self.rows]

    def get_data(self):
        return [[float(row["sum"]) for row in self.rows]]

    def get_dataset_options(self, index, color):
        return {"backgroundColor": CURRENCY_COLOURS[0], "borderColor": CURRENCY_COLOURS[0]}


def outcome_label(outcome: str) -> str:
    return CallAttempt.Outcome(outcome).label if outcome in CallAttempt.Outcome.values else _("not called yet")


def chart_urls(query: str) -> dict[str, str]:
    suffix = f"?{query}" if query else ""
    return {name.replace("-", "_"): reverse(f"dashboard:{name}") + suffix for name in ("series", "outcomes")}


def sum_charts(query: str, order_sums: dict) -> list[dict]:
    """One order-sum chart per currency present in the period."""
    base = reverse("dashboard:partner-sums")
    prefix = f"{base}?{query}&" if query else f"{base}?"
    return [{"currency": currency, "url": prefix + urlencode({"currency": currency})} for currency in order_sums]


def buckets(period: stats.Period, *, now: datetime) -> list[tuple[object, str]]:
    """Every day (or hour) of the period in its zone that has begun by `now`: (key matching a series
    row, label). Hours and days still to come are not plotted: a zero there would read as no leads."""
    result = []
    if period.hourly:
        moment = period.start.astimezone(dt_timezone.utc)  # an hour of elapsed time, not of the wall clock
        while moment < min(period.end, now):
            local = moment.astimezone(period.tz)
            key = local.replace(minute=0, second=0, microsecond=0, tzinfo=None)
            # The hour the clocks go back is lived twice; the series counts by local hour, so it is one bar.
            if not result or result[-1][0] != key:
                result.append((key, local.strftime("%H:%M")))
            moment += timedelta(hours=1)
        return result
    day, last = period.first_day, min(period.last_day, now.astimezone(period.tz).date())
    while day <= last:
        result.append((day, formats.date_format(day, "SHORT_DATE_FORMAT")))
        day += timedelta(days=1)
    return result


def _bucket_key(bucket, period: stats.Period):
    if isinstance(bucket, datetime):
        return bucket.astimezone(period.tz).replace(tzinfo=None)
    return bucket
