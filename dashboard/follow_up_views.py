"""The dashboard's cadence and SMS pieces: the reached-on-call-N chart and the CSV of both figures."""

from __future__ import annotations

from django.utils.translation import gettext as _

from dashboard.charts import ChartView
from dashboard.exports import CsvExport, spreadsheet_csv
from dashboard.follow_up import follow_up_summary, reached_by_call


class ReachedByCallChart(ChartView):
    """Reached leads by the call that reached them: a bar per call number."""

    def rows_for(self, period):
        return reached_by_call(period)

    def get_providers(self):
        return [_("Reached")]

    def get_labels(self):
        return [_("call %(n)d") % {"n": number} for number, _count in self.rows]

    def get_data(self):
        return [[count for _number, count in self.rows]]

    def get_dataset_options(self, index, color):
        return {"backgroundColor": "#1a7f37", "borderColor": "#1a7f37"}


class FollowUpCsv(CsvExport):
    """Reached on call 1..N, then the messages per kind, for the filtered period."""

    def csv(self, period):
        figures = follow_up_summary(period)
        response, writer, number = spreadsheet_csv(f"calls-and-messages-{period.first_day}-{period.last_day}.csv")
        writer.writerow([_("Reached on call"), _("Leads"), _("Share, %")])
        for row in figures["reached"]:
            writer.writerow([row["number"], row["count"], number(row["percent"])])
        writer.writerow([])
        writer.writerow([_("Message"), _("Planned"), _("Sent"), _("Delivered"), _("Not delivered"), _("Not sent")])
        for row in figures["messages"]:
            writer.writerow([row["label"], row["planned"], row["sent"], row["delivered"], row["undelivered"],
                             row["not_sent"]])
        return response
