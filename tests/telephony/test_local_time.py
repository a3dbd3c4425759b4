"""Where a lead's phone is: the candidate zones its number tells, our corrections, public holidays."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.tzdata import TIMEZONE_DATA

from telephony.local_time import PREFIX_ZONES, ZONE_FIXES, number_place, public_holiday


@pytest.mark.parametrize(
    ("phone", "country", "zones"),
    [
        ("+74951234567", "RU", ("Europe/Moscow",)),  # a Moscow fixed line
        ("+74232123456", "RU", ("Asia/Vladivostok",)),  # a Vladivostok fixed line
        ("+74012123456", "RU", ("Europe/Kaliningrad",)),  # the library says Europe/Bucharest
        ("+78452123456", "RU", ("Europe/Saratov",)),  # the library says Europe/Moscow (UTC+3, not +4)
        ("+12125551234", "US", ("America/New_York",)),
    ],
)
def test_a_number_with_an_area_code_is_placed_in_its_zone(phone, country, zones):
    place = number_place(phone)

    assert (place.country, place.zones, place.located) == (country, zones, True)


@pytest.mark.parametrize("phone", ["+4930123456", "+4915112345678"])
def test_a_german_number_fixed_or_mobile_is_in_the_countrys_one_zone(phone):
    place = number_place(phone)

    assert (place.country, place.zones) == ("DE", ("Europe/Berlin",))


def test_a_us_area_code_across_a_zone_line_gives_both_zones():
    place = number_place("+17755551234")  # Nevada: Pacific time, and Mountain along the Idaho border

    assert set(place.zones) == {"America/Boise", "America/Los_Angeles"} and place.located


def test_a_russian_mobile_tells_only_the_country_with_russian_zones_only():
    place = number_place("+79123456789")

    assert place.country == "RU" and not place.located
    assert "Europe/Kaliningrad" in place.zones and "Asia/Kamchatka" in place.zones
    # +7 is shared with Kazakhstan: its zones, and the library's stand-in for Kaliningrad, are gone.
    assert not {"Asia/Almaty", "Asia/Aqtobe", "Europe/Bucharest"} & set(place.zones)


def test_a_kazakh_mobile_gets_kazakh_zones_only():
    place = number_place("+77012345678")

    assert place.country == "KZ" and set(place.zones) == {"Asia/Almaty", "Asia/Aqtobe"}


@pytest.mark.parametrize("phone", ["not a number", "+999123", ""])
def test_a_number_that_tells_nothing_has_no_zones(phone):
    assert number_place(phone).zones == ()


@pytest.mark.parametrize(
    ("moment", "same_clock"),
    [
        (datetime(2027, 1, 15, 12, tzinfo=UTC), True),  # winter: both UTC+2
        (datetime(2027, 7, 15, 12, tzinfo=UTC), False),  # summer: Bucharest UTC+3, Kaliningrad still UTC+2
    ],
)
def test_kaliningrad_needs_its_own_zone_in_summer(moment, same_clock):
    ours, the_librarys = ZoneInfo(number_place("+74012123456").zones[0]), ZoneInfo("Europe/Bucharest")

    assert moment.astimezone(ours).utcoffset() == timedelta(hours=2)
    assert (moment.astimezone(ours).hour == moment.astimezone(the_librarys).hour) is same_clock


def test_every_correction_names_a_real_zone():
    names = {zone for zones in PREFIX_ZONES.values() for zone in zones}
    names |= {zone for fixes in ZONE_FIXES.values() for zone in fixes.values() if zone}
    for name in names:
        assert ZoneInfo(name).utcoffset(datetime(2027, 1, 1)) is not None


ZONE_TAB = Path("/usr/share/zoneinfo/zone.tab")


@pytest.mark.skipif(not ZONE_TAB.exists(), reason="needs the system's tz database (zone.tab)")
def test_the_library_gives_no_zone_of_another_country_that_we_have_not_reviewed():
    """A phonenumbers upgrade that brings a new stand-in zone (a zone of another country, with another
    clock than every zone of the number's own) fails here: review it and add it to the corrections."""
    countries = defaultdict(set)
    for line in ZONE_TAB.read_text().splitlines():
        if not line.startswith("#"):
            code, _coordinates, zone = line.split("\t")[:3]
            countries[code].add(zone)
    unreviewed = []
    for prefix, zones in TIMEZONE_DATA.items():
        code = next(int(prefix[:n]) for n in (1, 2, 3) if int(prefix[:n]) in COUNTRY_CODE_TO_REGION_CODE)
        regions = COUNTRY_CODE_TO_REGION_CODE[code]
        own = {zone for region in regions for zone in countries[region]}
        if not own:  # Ascension, Kosovo: no zones of their own in zone.tab, nothing to compare with
            continue
        for zone in zones:
            fixed = {ZONE_FIXES.get(region, {}).get(zone, zone) for region in regions} - {None}
            if any(name in own or _same_clock(name, own) for name in fixed):
                continue
            if any(prefix.startswith(key) for key in PREFIX_ZONES):
                continue
            unreviewed.append((prefix, zone))
    assert unreviewed == []


def _same_clock(name: str, zones: set[str]) -> bool:
    """An alias (Asia/Calcutta) or a zone whose clock is another's every day of the next two years."""
    days = [datetime(2027, 1, 1, 12, tzinfo=UTC) + timedelta(days=n) for n in range(730)]
    clock = [day.astimezone(ZoneInfo(name)).utcoffset() for day in days]
    return any(clock == [day.astimezone(ZoneInfo(other)).utcoffset() for day in days] for other in sorted(zones))


def test_russian_new_year_is_a_public_holiday_and_an_ordinary_day_is_not():
    assert public_holiday("RU", date(2027, 1, 4))
    assert public_holiday("RU", date(2027, 1, 12)) is None
    assert public_holiday("US", date(2027, 1, 4)) is None  # each country its own


def test_a_country_the_holidays_package_does_not_know_has_no_holidays():
    assert public_holiday("", date(2027, 1, 1)) is None
    assert public_holiday("ZZ", date(2027, 1, 1)) is None


def test_the_full_phonenumbers_build_is_installed():
    """phonenumberslite has no time-zone data: the lead-local window depends on the full build."""
    number = phonenumbers.parse("+74951234567")

    assert phonenumbers.timezone.time_zones_for_number(number) == ("Europe/Moscow",)
