"""Where a lead's phone is, by its number: the candidate time zones and the country's public holidays.

The zones come from libphonenumber's time-zone data (`phonenumbers.timezone`), with our corrections
where that data names a zone that only looks like the right one (below). A fixed line is located by
its area code; a mobile in a country with several zones (Russia, Kazakhstan) or a non-geographic
number is only located by its country, and the library lists every zone of the calling code.
How those candidates become the zones a call must respect is `telephony/call_window.py`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import phonenumbers
from phonenumbers.timezone import UNKNOWN_TIMEZONE, time_zones_for_number
from phonenumbers.tzdata import TIMEZONE_DATA

# libphonenumber gives some areas a zone of another place with the same winter offset, or an offset
# its region left years ago; the local time then differs in summer, or always. Checked against the IANA
# tz database (zone.tab / zone1970.tab and the zones' history comments), tzdata 2025b; found by listing
# every zone the library gives a calling code that is not a zone of that code's countries
# (tests/telephony/test_local_time.py keeps that list from growing unnoticed on a library upgrade).
#
# By E.164 prefix (the longest wins), replacing what the library says for every number under it:
PREFIX_ZONES: dict[str, tuple[str, ...]] = {
    # +7 401x, Kaliningrad: the library says Europe/Bucharest (UTC+2 in winter, +3 in summer);
    # Kaliningrad keeps UTC+2 all year since 2014 (tz: Europe/Kaliningrad, "MSK-01").
    "740": ("Europe/Kaliningrad",),
    # +7 845x, Saratov Oblast: the library says Europe/Moscow; the oblast moved to UTC+4 on
    # 2016-12-04 (tz: Europe/Saratov, "MSK+01 - Saratov").
    "7845": ("Europe/Saratov",),
}
# By the number's region, for the zone lists the library gives a whole calling code (mobiles and
# numbers it cannot place): a zone of another place replaced, or None to drop it (+7 is shared by
# Russia and Kazakhstan, and each list carries the other's zones).
ZONE_FIXES: dict[str, dict[str, str | None]] = {
    "RU": {"Europe/Bucharest": "Europe/Kaliningrad", "Asia/Almaty": None, "Asia/Aqtobe": None},
    "KZ": {zone: None for zone in TIMEZONE_DATA["7"] if zone not in ("Asia/Almaty", "Asia/Aqtobe")},
    "MX": {"America/New_York": "America/Cancun"},  # Quintana Roo: UTC-5 all year since 2015
    "DZ": {"Europe/Paris": "Africa/Algiers"},  # no daylight saving since 1981
    "LY": {"Europe/Bucharest": "Africa/Tripoli"},  # UTC+2 all year
    "MA": {"Atlantic/Canary": "Africa/Casablanca"},  # UTC+1, UTC+0 during Ramadan
    "EH": {"Atlantic/Canary": "Africa/El_Aaiun"},
    "SS": {"Africa/Nairobi": "Africa/Juba"},  # UTC+2 since 2021
    "NI": {"America/Chicago": "America/Managua"},  # no daylight saving
    "PS": {"Europe/Bucharest": "Asia/Hebron"},  # its own daylight-saving dates
}


@dataclass(frozen=True)
class NumberPlace:
    """What a number tells about where its owner is."""

    country: str  # ISO 3166 region of the number ("" when unknown)
    zones: tuple[str, ...]  # candidate IANA zones, corrected; () when the number tells none
    located: bool  # True: placed below the country (an area code); False: only the country is known


@lru_cache(maxsize=20_000)
def number_place(phone: str) -> NumberPlace:
    """The candidate zones of an E.164 number. Cached: it runs before every dial."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return NumberPlace("", (), False)
    country = phonenumbers.region_code_for_number(number) or ""
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    prefix = next((e164[:n] for n in range(len(e164), 0, -1) if e164[:n] in PREFIX_ZONES), None)
    if prefix is not None:
        return NumberPlace(country, PREFIX_ZONES[prefix], True)
    zones = time_zones_for_number(number)
    if zones == (UNKNOWN_TIMEZONE,):
        return NumberPlace(country, (), False)
    located = zones != TIMEZONE_DATA.get(str(number.country_code))
    fixes = ZONE_FIXES.get(country, {})
    fixed = (fixes.get(zone, zone) for zone in zones)
    return NumberPlace(country, tuple(dict.fromkeys(zone for zone in fixed if zone)), located)


def public_holiday(country: str, day: date) -> str | None:
    """The name of the country's public holiday on that day (the `holidays` package), or None.
    A country the package does not know has none."""
    if not country:
        return None
    return _holidays(country, day.year).get(day)


@lru_cache(maxsize=512)
def _holidays(country: str, year: int) -> dict[date, str]:
    import holidays  # ~90 ms to import: only in the processes that dial

    try:
        return dict(holidays.country_holidays(country, years=year))
    except NotImplementedError:
        return {}
