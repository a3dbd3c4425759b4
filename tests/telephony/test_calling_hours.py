"""Calling hours: the next moment a lead may be called, in the site's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from telephony.calling_hours import (
    CallingHoursError, intersect, next_call_time, open_intervals, parse_calling_hours, parse_hours_by_country,
    parse_local_hours,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = parse_calling_hours("mon-fri 09:00-13:00,14:00-20:00; sat 10:00-16:00")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_inside_a_window_the_answer_is_now():
    now = utc(2026, 11, 25, 8, 0)  # Wednesday 11:00 in Moscow

    assert next_call_time(now, WEEKDAYS, MOSCOW) == now


def test_lunch_break_waits_for_the_afternoon_window():
    now = utc(2026, 11, 25, 10, 30)  # 13:30 Moscow

    assert next_call_time(now, WEEKDAYS, MOSCOW) == utc(2026, 11, 25, 11, 0)


def test_a_lead_at_night_is_called_the_next_morning_not_at_night():
    now = utc(2026, 11, 25, 19, 0)  # 22:00 Moscow, Wednesday

    assert next_call_time(now, WEEKDAYS, MOSCOW) == utc(2026, 11, 26, 6, 0)  # Thursday 09:00


def test_saturday_evening_waits_until_monday():
    now = utc(2026, 11, 28, 14, 0)  # Saturday 17:00 Moscow; Sunday has no window

    assert next_call_time(now, WEEKDAYS, MOSCOW) == utc(2026, 11, 30, 6, 0)


def test_non_calling_dates_are_skipped():
    now = utc(2026, 12, 30, 19, 0)  # Wednesday 22:00

    result = next_call_time(now, WEEKDAYS, MOSCOW, closed=frozenset({date(2026, 12, 31), date(2027, 1, 1)}))

    assert result == utc(2027, 1, 2, 7, 0)  # Saturday 10:00


def test_the_same_moment_is_inside_hours_for_one_site_and_outside_for_another():
    now = utc(2026, 11, 25, 17, 30)
    hours = parse_calling_hours("mon-sun 09:00-21:00")

    assert next_call_time(now, hours, MOSCOW) == now  # 20:30 in Moscow
    assert next_call_time(now, hours, ZoneInfo("Asia/Vladivostok")) == utc(2026, 11, 25, 23, 0)  # 03:30 there


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Spring forward (29 March 2026, 02:00 -> 03:00): 09:00 Berlin is 07:00 UTC, no longer 08:00.
        (utc(2026, 3, 28, 21, 0), utc(2026, 3, 29, 7, 0)),
        # Fall back (25 October 2026, 03:00 -> 02:00): 09:00 Berlin is 08:00 UTC again.
        (utc(2026, 10, 24, 21, 0), utc(2026, 10, 25, 8, 0)),
    ],
)
def test_windows_follow_the_wall_clock_across_daylight_saving_changes(now, expected):
    hours = parse_calling_hours("mon-sun 09:00-20:00")

    assert next_call_time(now, hours, BERLIN) == expected


def test_window_until_midnight_is_open_at_23_59():
    hours = parse_calling_hours("mon-sun 22:00-24:00")
    now = datetime(2026, 11, 25, 23, 59, tzinfo=MOSCOW)

    assert next_call_time(now, hours, MOSCOW) == now


def test_no_hours_in_the_horizon_gives_none():
    hours = parse_calling_hours("mon 09:00-10:00")
    mondays = frozenset({date(2026, 11, 30), date(2026, 12, 7), date(2026, 12, 14)})  # every Monday in 3 weeks

    assert next_call_time(utc(2026, 11, 25, 12, 0), hours, MOSCOW, closed=mondays) is None


@pytest.mark.parametrize("text", ["", "mon-fri", "mon-fri 9-18", "funday 09:00-10:00", "mon 25:00-26:00",
                                  "mon 18:00-09:00"])
def test_malformed_hours_are_refused_with_a_reason(text):
    with pytest.raises(CallingHoursError):
        parse_calling_hours(text)


def test_bare_windows_are_every_day_for_the_lead_local_hours():
    assert parse_local_hours("08:00-21:00") == parse_calling_hours("mon-sun 08:00-21:00")
    assert parse_local_hours("mon-fri 08:00-21:00") == parse_calling_hours("mon-fri 08:00-21:00")


def test_hours_by_country_are_read_per_two_letter_code():
    hours = parse_hours_by_country("us=08:00-20:00 | DE=mon-sat 09:00-20:00")

    assert hours == {"US": parse_calling_hours("mon-sun 08:00-20:00"), "DE": parse_calling_hours("mon-sat 09:00-20:00")}
    assert parse_hours_by_country("") == {}


def test_a_window_to_midnight_and_the_next_from_midnight_are_one_interval():
    hours = parse_calling_hours("mon-sun 00:00-02:00,22:00-24:00")

    first = next(open_intervals(hours, MOSCOW, utc(2026, 11, 25, 12, 0)))

    assert first == (utc(2026, 11, 25, 19, 0), utc(2026, 11, 25, 23, 0))  # 22:00 to 02:00 Moscow


def test_hours_open_around_the_clock_come_as_touching_day_long_pieces():
    """The first of them is known after two days read, not the whole three-week horizon (each dial asks)."""
    hours = parse_calling_hours("mon-sun 00:00-24:00")
    read: list[date] = []

    def closed(day: date) -> bool:
        read.append(day)
        return False

    first = next(open_intervals(hours, MOSCOW, utc(2026, 11, 25, 12, 0), closed=closed))
    pieces = list(open_intervals(hours, MOSCOW, utc(2026, 11, 25, 12, 0), horizon_days=3))

    assert first == (utc(2026, 11, 24, 21, 0), utc(2026, 11, 25, 21, 0)) and len(read) == 2
    assert pieces[0] == first and pieces[-1][1] == utc(2026, 11, 28, 21, 0)
    assert all(earlier[1] == later[0] for earlier, later in zip(pieces, pieces[1:]))


def test_the_common_part_of_several_schedules_is_every_instant_inside_all_of_them():
    start = utc(2026, 11, 25, 0, 0)
    site = open_intervals(parse_calling_hours("mon-sun 09:00-13:00,14:00-20:00"), MOSCOW, start)
    lead = open_intervals(parse_calling_hours("mon-sun 08:00-21:00"), ZoneInfo("Asia/Yekaterinburg"), start)

    common = list(intersect([site, lead]))[:3]

    # Yekaterinburg is two hours ahead: its 21:00 is 19:00 in Moscow.
    assert common == [(utc(2026, 11, 25, 6, 0), utc(2026, 11, 25, 10, 0)),
                      (utc(2026, 11, 25, 11, 0), utc(2026, 11, 25, 16, 0)),
                      (utc(2026, 11, 26, 6, 0), utc(2026, 11, 26, 10, 0))]
