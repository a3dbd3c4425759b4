"""The CSV of consent proofs: one site or all, between two dates, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
from typing import Iterable

from django import forms
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.models import ConsentProof
from leadcaller.spreadsheet import spreadsheet_text
from leads.models import Site

_EARLIEST, _LATEST = dt.date(2000, 1, 1), dt.date(9999, 12, 30)  # the day after `last` must exist


class ProofFilterForm(forms.Form):
    site = forms.ModelChoiceField(label=_("site"), queryset=Site.objects.all(), required=False,
                                  empty_label=_("all sites"))
    first = forms.DateField(label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        for name in ("first", "last"):
            if data.get(name) and not _EARLIEST <= data[name] <= _LATEST:
                self.add_error(name, _("Choose a day from 2000 to 9999."))
        if data.get("first") and data.get("last") and data["first"] > data["last"]:
            self.add_error("last", _("The last day comes before the first."))
        return data


def proofs_csv(proofs: Iterable[ConsentProof], *, filename: str) -> HttpResponse:
    """Every text cell goes through spreadsheet_text: the user agent, the page and the text come from
    visitors, and a cell starting with = would be a formula."""
    tz = timezone.get_current_timezone()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([_("Given at"), _("Site"), _("Lead"), _("Phone"), _("IP address"), _("User agent"), _("Page"),
                     _("Page read from"), _("Text version"), _("Text shown")])
    for proof in proofs:
        writer.writerow([proof.given_at.astimezone(tz).isoformat(timespec="seconds")] + [spreadsheet_text(str(value))
                        for value in (proof.site.domain, proof.lead.public_id, proof.lead.phone, proof.ip or "",
                                      proof.user_agent, proof.page_url, proof.page_source,
                                      proof.version or "", proof.text)])
    return response


def export_filename(site: Site | None, first: dt.date | None, last: dt.date | None) -> str:
    parts = ["consent", site.domain if site else "all-sites", str(first or "start"), str(last or "now")]
    return "-".join(parts).replace('"', "") + ".csv"
