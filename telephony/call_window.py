"""When a lead may be called: inside the site's calling hours, and inside the lead-local window in the
lead's own zone on a day that is no public holiday of its number's country; a backlog that waited for
a window is spread over the window's first minutes.

The lead's zones, from its number (telephony/local_time.py):
- the number names its area (a fixed line, a US number): that area's zones. Where they are several
  (a US area code across a zone line), the call must be inside the window in every one of them.
- the number names only its country (a Russian mobile; a toll-free number), which has several zones:
  the site's zone when it is one of them (a shop's leads mostly live where the shop is, and the
  number says nothing against it); else every zone of the country, which is safe but narrow (all of
  Russia, Kaliningrad to Kamchatka, shares 09:00-12:00 Moscow time of an 08:00-21:00 window).
- nothing (an unknown prefix): the site's zone.
Where several zones leave no moment at all in the next three weeks (together with the site's hours),
the site's zone is used instead: a lead is never parked for good by a rule meant to protect it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from telephony.calling_hours import CallingHours, Interval, intersect, next_call_time, open_intervals
from telephony.local_time import number_place, public_holiday
from telephony.policy import CallSettings

LOOKBACK = timedelta(days=7)  # how far back the start of a closed spell is looked for (the ramp)


@dataclass(frozen=True)
class LeadZones:
    zones: tuple[ZoneInfo, ...]
    country: str  # the number's country ("" when unknown): its holidays and its window
    from_number: bool  # False: the site's zone stands in


@lru_cache(maxsize=20_000)
def lead_zones(phone: str, site_tz: ZoneInfo) -> LeadZones:
    """The zones a call to `phone` must respect before the no-common-hours fallback. Cached."""
    place = number_place(phone)
    zones = tuple(_zone(name) for name in place.zones)
    if not zones:
        return LeadZones((site_tz,), place.country, False)
    year = datetime.now(UTC).year
    if len(zones) > 1 and not place.located and _offsets(site_tz, year) in {_offsets(z, year) for z in zones}:
        return LeadZones((site_tz,), place.country, False)
    return LeadZones(zones, place.country, True)


@lru_cache(maxsize=None)  # ZoneInfo keeps only a few zones strongly; a country's 14 would be read again
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=1024)
def _offsets(zone: ZoneInfo, year: int) -> tuple[timedelta | None, ...]:
    """Winter and summer offsets: a zone with the same ones keeps (nearly) the same clock."""
    return tuple(datetime(year, month, 15, 12, tzinfo=zone).utcoffset() for month in (1, 7))


def next_allowed(cfg: CallSettings, moment: datetime, *, phone: str) -> datetime | None:
    """The first moment at or after `moment` that every rule allows (UTC), or None if none in three
    weeks. Outside the rules, the opening of the next window, later by the backlog's ramp."""
    zones, window = _first_window(cfg, moment, phone)
    if window is None:
        return None
    start, end = window
    if start <= moment:
        return moment
    return start + min(cfg.ramp, end - start) * _backlog_share(cfg, zones, moment, start)


def window_around(cfg: CallSettings, moment: datetime, *, phone: str) -> Interval | None:
    """The stretch (start, end) of allowed moments that `moment` is in, or None when a rule forbids a call at
    it. A first dial asks it of the lead's arrival: whether the lead came in hours, and, when now is before
    the end, that now is allowed too, from one look-up of the calendar."""
    window = _first_window(cfg, moment, phone)[1]
    return window if window is not None and window[0] <= moment else None


def wait_reason(cfg: CallSettings, moment: datetime, *, phone: str) -> str | None:
    """Why no call may be made at `moment` (the first rule that forbids it), or None: every rule allows it."""
    if moment.astimezone(cfg.tz).date() in cfg.closed:
        return _("a day without calls at the site")
    if next_call_time(moment, cfg.hours, cfg.tz, horizon_days=0) != moment:
        return _("outside the site's calling hours, %(time)s in %(zone)s") % _clock(moment, cfg.tz)
    zones = zones_in_force(cfg, moment, phone=phone)
    for zone in zones.zones:
        holiday = _holiday(cfg, zones.country, moment.astimezone(zone).date())
        if holiday:
            return _("a public holiday in %(country)s: %(holiday)s") % {"country": zones.country, "holiday": holiday}
        if next_call_time(moment, _lead_hours(cfg, zones), zone, horizon_days=0) != moment:
            return _("outside the lead's local hours, %(time)s in %(zone)s") % _clock(moment, zone)
    return None


def zones_in_force(cfg: CallSettings, moment: datetime, *, phone: str) -> LeadZones:
    """The zones whose window a call at `moment` must respect (after the no-common-hours fallback)."""
    return _first_window(cfg, moment, phone)[0]


def lead_local_time(cfg: CallSettings, moment: datetime, *, phone: str) -> str:
    """The lead's clock as the calls read it: "23:10 in Asia/Vladivostok (from the number)"."""
    zones = zones_in_force(cfg, moment, phone=phone)
    clocks = ", ".join(_("%(time)s in %(zone)s") % _clock(moment, zone) for zone in zones.zones)
    if zones.from_number:
        return _("%(clocks)s (from the number)") % {"clocks": clocks}
    return _("%(clocks)s (the site's zone: the number does not tell the lead's)") % {"clocks": clocks}


def _first_window(cfg: CallSettings, moment: datetime, phone: str) -> tuple[LeadZones, Interval | None]:
    zones = lead_zones(phone, cfg.tz)
    window = next(intersect(_streams(cfg, zones, moment)), None)
    if window is None and len(zones.zones) > 1:  # several zones share no moment: the site's stands in
        zones = LeadZones((cfg.tz,), zones.country, False)
        window = next(intersect(_streams(cfg, zones, moment)), None)
    return zones, window


def _streams(cfg: CallSettings, zones: LeadZones, start: datetime) -> list[Iterator[Interval]]:
    hours = _lead_hours(cfg, zones)

    def holiday(day: date) -> bool:
        return _holiday(cfg, zones.country, day) is not None

    return [open_intervals(cfg.hours, cfg.tz, start, closed=cfg.closed.__contains__),
            *(open_intervals(hours, zone, start, closed=holiday) for zone in zones.zones)]


def _lead_hours(cfg: CallSettings, zones: LeadZones) -> CallingHours:
    return cfg.lead_hours_by_country.get(zones.country, cfg.lead_hours)


def _holiday(cfg: CallSettings, country: str, day: date) -> str | None:
    return public_holiday(country, day) if cfg.skip_holidays else None


def _backlog_share(cfg: CallSettings, zones: LeadZones, moment: datetime, start: datetime) -> float:
    """Where in the ramp a lead due at `moment` (outside the rules) goes: its place in the closed spell
    before `start`, so leads that waited longest go first and the spell's leads fill the whole ramp."""
    if not cfg.ramp:
        return 0.0
    closed_since = moment - LOOKBACK
    for _begin, end in intersect(_streams(cfg, zones, moment - LOOKBACK)):
        if end > moment:
            break
        closed_since = end
    return (moment - closed_since) / (start - closed_since)


def _clock(moment: datetime, zone: ZoneInfo) -> dict[str, str]:
    return {"time": moment.astimezone(zone).strftime("%H:%M"), "zone": zone.key}
