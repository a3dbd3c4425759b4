"""The dashboard's seller pieces (sellers/stats.py): their context, and the per-seller table as CSV.

Kept apart from dashboard/views.py so the page layout can change without touching them; the page
includes templates/dashboard/_sellers.html.
"""

from __future__ import annotations

import csv
from datetime import timedelta

from django.http import HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext as _
from django.views import View

from dashboard import stats
from dashboard.views import ManagersOnly, duration_text
from leadcaller.spreadsheet import spreadsheet_text
from sellers import stats as seller_stats


def seller_context(period: stats.Period) -> dict:
    speed = seller_stats.speed_to_conversation(period)
    rows = seller_stats.seller_rows(period)
    for row in rows:
        row["median_answer_text"] = duration_text(row["median_answer"])
        row["talk_time_text"] = duration_text(row["talk_time"]) if row["talk_time"] else "—"
    return {"conversation": {"median": duration_text(speed["median"]), "p90": duration_text(speed["p90"]),
                             "connected": speed["connected"]},
            "seller_rows": rows}


def seller_csv(period: stats.Period) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    first, last = period.start.date(), (period.end - timedelta(days=1)).date()
    response["Content-Disposition"] = f'attachment; filename="sellers-{first}-{last}.csv"'
    writer = csv.writer(response)
    writer.writerow([_("Seller"), _("Offered"), _("Answered"), _("Missed"), _("Median time to answer, s"),
                     _("Talk time, s")])
    for row in seller_stats.seller_rows(period):
        writer.writerow([spreadsheet_text(row["seller__name"]), row["offered"], row["answered"], row["missed"],
                         "" if row["median_answer"] is None else row["median_answer"], row["talk_time"]])
    return response


class SellerCsv(ManagersOnly, View):
    """The per-seller table as CSV, under the page's filters."""

    def get(self, request, *args, **kwargs):
        period = self.filter_period()
        if period is None:
            return HttpResponseBadRequest(_("The filter is not valid."))
        return seller_csv(period)
