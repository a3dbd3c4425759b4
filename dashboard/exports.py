"""The dashboard's tables as CSV files, for a spreadsheet in the viewer's language."""

from __future__ import annotations

import csv
from typing import Any, Callable

from django.http import HttpResponse, HttpResponseBadRequest
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from dashboard import stats
from dashboard.access import ManagersOnly
from dashboard.tables import table
from leadcaller.spreadsheet import spreadsheet_text


def spreadsheet_csv(filename: str) -> tuple[HttpResponse, Any, Callable[[object], str]]:
    """An attachment answer, its csv writer and a number formatter, for the spreadsheet of the viewer's
    language: UTF-8 with a byte order mark (Excel reads UTF-8 without one as the system's legacy code
    page); where the decimal mark is a comma (Russian), fields are separated by ";" and decimals use the
    comma, as Excel there expects."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    comma_decimals = formats.get_format("DECIMAL_SEPARATOR") == ","
    response.write("\ufeff")
    writer = csv.writer(response, delimiter=";" if comma_decimals else ",")

    def number(value) -> str:
        return str(value).replace(".", ",") if comma_decimals else str(value)

    return response, writer, number


class CsvExport(ManagersOnly, View):
    """A CSV download under the page's filters; a filter that is not valid is a 400."""

    def get(self, request, *args, **kwargs):
        period = self.filter_period()
        if period is None:
            return HttpResponseBadRequest(_("The filter is not valid."))
        return self.csv(period)

    def csv(self, period: stats.Period) -> HttpResponse:
        raise NotImplementedError


class TableCsv(CsvExport):
    """The per-partner or per-site table as CSV: the numbers of the page, one column pair per currency,
    written for the spreadsheet of the viewer's language (spreadsheet_csv, docs/operations.md)."""

    group: str = ""

    def csv(self, period: stats.Period) -> HttpResponse:
        rows = stats.by_partner(period) if self.group == "partner" else stats.by_site(period)
        data = table(rows, self.group, _("no partner") if self.group == "partner" else "", None)
        filename = f"leads-by-{self.group}-{period.first_day}-{period.last_day}.csv"
        response, writer, number = spreadsheet_csv(filename)
        writer.writerow([self.heading, _("Leads"), _("Reached"), _("Reach rate, %")]
                        + [f"{label} {currency}" for currency in data["currencies"]
                           for label in (_("Orders"), _("Order sum"))])
        for row in data["rows"]:
            writer.writerow([spreadsheet_text(row["name"]), row["leads"], row["reached"], number(row["percent"])]
                            + [number(value) for cell in row["sums"] for value in (cell["orders"], cell["sum"])])
        return response


class PartnerCsv(TableCsv):
    group, heading = "partner", gettext_lazy("Partner")


class SiteCsv(TableCsv):
    group, heading = "site", gettext_lazy("Site")
