"""The cadence syntax and its arithmetic: across days, daylight-saving changes and time zones."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from telephony.cadence import DEFAULT_CADENCE, CadenceError, Delay, cadence_from_retry, parse_cadence

BERLIN, MOSCOW, VLADIVOSTOK = ZoneInfo("Europe/Berlin"), ZoneInfo("Europe/Moscow"), ZoneInfo("Asia/Vladivostok")


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def test_the_default_is_six_calls_over_three_days():
    cadence = parse_cadence(DEFAULT_CADENCE)
    start = at(MOSCOW, 2026, 12, 1, 12, 0)
    moment, times = start, []
    for made in range(1, cadence.calls):
        moment = cadence.next_due(calls_made=made, after=moment, zone=MOSCOW)
        times.append(moment)

    assert cadence.calls == 6
    assert times[:3] == [start + timedelta(minutes=5), start + timedelta(minutes=35), start + timedelta(minutes=155)]
    assert times[3] == at(MOSCOW, 2026, 12, 2, 10, 0) and times[4] == at(MOSCOW, 2026, 12, 4, 17, 0)
    assert cadence.next_due(calls_made=6, after=moment, zone=MOSCOW) is None


@pytest.mark.parametrize("text, delays", [
    ("0, 45s, 1h30m", (Delay(), Delay(elapsed=timedelta(seconds=45)), Delay(elapsed=timedelta(minutes=90)))),
    ("0,1d,+3d 9:05", (Delay(), Delay(days=1), Delay(days=3, at=time(9, 5)))),
    (" 0 , NEXT  DAY 10:00 ", (Delay(), Delay(days=1, at=time(10, 0)))),
    ("0", (Delay(),)),
])
def test_items_are_read_as_written(text, delays):
    assert parse_cadence(text).delays == delays


@pytest.mark.parametrize("text, message", [
    ("", "separated by commas"),
    ("0, 5m,, 2h", "separated by commas"),
    ("5m, 2h", "must be 0"),
    ("0, 0", "Item 2: a later call needs a delay above 0"),
    ("0, 5 minutes", "Item 2 (5 minutes) is not understood"),
    ("0, next dya 10:00", "Item 2 (next dya 10:00) is not understood"),
    ("0, 2h, next day 25:00", "Item 3 (next day 25:00): 25:00 is not a time of day"),
    ("0, +0d 10:00", "at least one day later"),
    ("0, 15d", "at most 14 days"),
    (", ".join(["0"] + ["5m"] * 20), "At most 20 calls"),
])
def test_a_bad_cadence_is_refused_with_the_item_and_the_reason(text, message):
    with pytest.raises(CadenceError, match=re.escape(message)):
        parse_cadence(text)


def test_next_day_at_a_time_crosses_midnight_on_the_leads_clock():
    cadence = parse_cadence("0, next day 10:00, +2d 17:00")
    late = at(MOSCOW, 2026, 12, 1, 23, 30)

    assert cadence.next_due(calls_made=1, after=late, zone=MOSCOW) == at(MOSCOW, 2026, 12, 2, 10, 0)
    # 23:30 in Moscow is already 06:30 the next day in Vladivostok: "next day" is the day after that.
    assert cadence.next_due(calls_made=1, after=late, zone=VLADIVOSTOK) == at(VLADIVOSTOK, 2026, 12, 3, 10, 0)
    assert cadence.next_due(calls_made=2, after=late, zone=MOSCOW) == at(MOSCOW, 2026, 12, 3, 17, 0)


def test_a_day_later_keeps_the_clock_time_across_the_spring_change():
    # Berlin moves from UTC+1 to UTC+2 on 2026-03-29: a "day" that night is 23 hours long.
    before = at(BERLIN, 2026, 3, 28, 12, 0)
    due = parse_cadence("0, 1d").next_due(calls_made=1, after=before, zone=BERLIN)

    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 12, 0)
    assert due - before == timedelta(hours=23)


def test_a_clock_time_skipped_by_the_spring_change_is_read_an_hour_later():
    due = parse_cadence("0, next day 02:30").next_due(calls_made=1, after=at(BERLIN, 2026, 3, 28, 12, 0), zone=BERLIN)

    assert due == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 summer time
    assert due.astimezone(BERLIN).strftime("%H:%M %Z") == "03:30 CEST"


def test_a_clock_time_repeated_by_the_autumn_change_is_its_first_occurrence():
    # 2026-10-25: 02:00-03:00 happens twice in Berlin (first in summer time, UTC+2).
    due = parse_cadence("0, next day 02:30").next_due(calls_made=1, after=at(BERLIN, 2026, 10, 24, 12, 0), zone=BERLIN)

    assert due == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_elapsed_steps_count_real_time_across_a_change():
    night = at(BERLIN, 2026, 3, 29, 1, 30)  # 00:30 UTC, half an hour before the change
    due = parse_cadence("0, 2h").next_due(calls_made=1, after=night, zone=BERLIN)

    assert due - night == timedelta(hours=2)
    assert due.astimezone(BERLIN).strftime("%H:%M") == "04:30"


def test_the_old_fixed_retry_maps_onto_an_equal_cadence():
    assert cadence_from_retry(4, 15) == "0, 15m, 15m, 15m"
    assert cadence_from_retry(1, 20) == "0"
    assert parse_cadence(cadence_from_retry(3, 20)).calls == 3
