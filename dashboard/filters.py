"""The dashboard's filter: a preset or custom date range, a site, a partner, a time zone -> a Period."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dashboard.rollups import midnight
from dashboard.stats import Period
from leads.models import Partner, Site

PRESET_DAYS = {"today": 1, "7": 7, "30": 30}
MAX_DAYS = 366
# Dates a range may hold: wide enough for any lead, far enough from date.min and date.max that
# a day's end and a zone's offset never overflow (9999-12-31 + 1 day does).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


_DAY_VALIDATORS = [MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)]


class DashboardFilter(forms.Form):
    range = forms.ChoiceField(label=_("Period"), required=False, initial="7", choices=[
        ("today", _("Today")), ("7", _("Last 7 days")), ("30", _("Last 30 days")), ("custom", _("Dates below"))])
    start = forms.DateField(label=_("From"), required=False, validators=_DAY_VALIDATORS,
                            widget=forms.DateInput(attrs={"type": "date", "min": FIRST_DAY, "max": LAST_DAY}))
    end = forms.DateField(label=_("To"), required=False, validators=_DAY_VALIDATORS,
                          widget=forms.DateInput(attrs={"type": "date", "min": FIRST_DAY, "max": LAST_DAY}))
    site = forms.ModelChoiceField(Site.objects.all(), label=_("Site"), required=False, empty_label=_("All sites"))
    partner = forms.ModelChoiceField(Partner.objects.all(), label=_("Partner"), required=False,
                                     empty_label=_("All partners"))
    tz = forms.ChoiceField(label=_("Time zone"), required=False, help_text=_("Blank: the site's, else the server's."))

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and (data.get("start") or data.get("end")) and data.get("range") != "custom":
            # Dates typed in are the range, whatever preset the list still shows (the page's script also
            # switches the list to "Dates below" as soon as a date changes).
            data = data.copy()
            data["range"] = "custom"
        super().__init__(data, *args, **kwargs)
        self.fields["tz"].choices = [("", _("automatic"))] + [(name, name) for name in _zone_names()]

    def clean(self):
        data = super().clean()
        if data.get("range") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError(_("Give both dates of a custom range."))
            if end < start:
                raise forms.ValidationError(_("The range ends before it starts."))
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(_("A range may span at most %(days)d days.") % {"days": MAX_DAYS})
        return data

    def period(self, *, now: datetime | None = None) -> Period:
        """The range asked for (the default range when the form is not valid)."""
        data = self.cleaned_data if self.is_valid() else {}
        site, partner = data.get("site"), data.get("partner")
        zone = zoneinfo.ZoneInfo(data.get("tz") or (site.time_zone if site and site.time_zone else "")
                                 or timezone.get_current_timezone_name())
        first, last = self._days(data, timezone.localtime(now or timezone.now(), zone).date())
        return Period(start=midnight(first, zone), end=midnight(last + timedelta(days=1), zone), tz=zone,
                      site_id=site.pk if site else None, partner_id=partner.pk if partner else None)

    @staticmethod
    def _days(data: dict, today: date) -> tuple[date, date]:
        preset = data.get("range") or "7"
        if preset == "custom":
            return data["start"], data["end"]
        return today - timedelta(days=PRESET_DAYS[preset] - 1), today


_ZONES: list[str] = []


def _zone_names() -> list[str]:
    if not _ZONES:
        _ZONES.extend(sorted(name for name in zoneinfo.available_timezones() if "/" in name or name == "UTC"))
    return _ZONES
