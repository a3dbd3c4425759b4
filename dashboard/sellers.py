"""The dashboard's seller pieces (sellers/stats.py): their context, and the per-seller table as CSV.

A section of the page (dashboard/sections.py, templates/dashboard/sections/sellers.html).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.translation import gettext as _

from dashboard import stats
from dashboard.exports import CsvExport, spreadsheet_csv
from dashboard.numbers import duration_text
from leadcaller.spreadsheet import spreadsheet_text
from sellers import stats as seller_stats


def seller_context(request, period: stats.Period, shared: dict) -> dict:
    """The seller section's context (dashboard/sections.py)."""
    speed = seller_stats.speed_to_conversation(period)
    rows = seller_stats.seller_rows(period)
    for row in rows:
        row["median_answer_text"] = duration_text(row["median_answer"])
        row["talk_time_text"] = duration_text(row["talk_time"]) if row["talk_time"] else "—"
    return {"conversation": {"median": duration_text(speed["median"]), "p90": duration_text(speed["p90"]),
                             "connected": speed["connected"]},
            "seller_rows": rows}


class SellerCsv(CsvExport):
    """The per-seller table as CSV, under the page's filters."""

    def csv(self, period: stats.Period) -> HttpResponse:
        response, writer, number = spreadsheet_csv(f"sellers-{period.first_day}-{period.last_day}.csv")
        writer.writerow([_("Seller"), _("Offered"), _("Answered"), _("Missed"), _("Median time to answer, s"),
                         _("Talk time, s")])
        for row in seller_stats.seller_rows(period):
            median = "" if row["median_answer"] is None else number(row["median_answer"])
            writer.writerow([spreadsheet_text(row["seller__name"]), row["offered"], row["answered"], row["missed"],
                             median, number(row["talk_time"])])
        return response

