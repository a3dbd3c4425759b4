"""Calling hours: the `CALLING_HOURS` syntax and its parsed form.

Syntax: groups separated by `;`, each `DAYS WINDOWS`. DAYS is a day (`sat`), a range (`mon-fri`,
wrapping allowed: `fri-mon`) or a comma list of those; WINDOWS is one or more `HH:MM-HH:MM`
separated by commas. Example: `mon-fri 09:00-13:00,14:00-20:00; sat 10:00-16:00`.
A day named in no group is a day without calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class CallingHoursError(ValueError):
    """The text is not valid calling-hours syntax; the message says what is wrong."""


@dataclass(frozen=True)
class Window:
    start: time
    end: time  # exclusive; 24:00 is written as time.max


@dataclass(frozen=True)
class CallingHours:
    by_weekday: tuple[tuple[Window, ...], ...]  # index 0 = Monday, as datetime.weekday()

    def windows(self, weekday: int) -> tuple[Window, ...]:
        return self.by_weekday[weekday]


def parse_calling_hours(text: str) -> CallingHours:
    days: list[list[Window]] = [[] for _ in DAY_NAMES]
    groups = [group.strip() for group in text.split(";") if group.strip()]
    if not groups:
        raise CallingHoursError("no calling hours given; write e.g. 'mon-fri 09:00-20:00'.")
    for group in groups:
        try:
            day_part, window_part = group.split(None, 1)
        except ValueError:
            raise CallingHoursError(f"{group!r} needs days and hours, e.g. 'mon-fri 09:00-20:00'.") from None
        windows = [_window(item.strip()) for item in window_part.replace(" ", "").split(",")]
        for weekday in _days(day_part.lower()):
            days[weekday].extend(windows)
    return CallingHours(tuple(tuple(sorted(ws, key=lambda w: w.start)) for ws in days))


def _days(text: str) -> list[int]:
    result: list[int] = []
    for item in text.split(","):
        first, _, last = item.partition("-")
        start, end = _day(first), _day(last or first)
        span = (end - start) % 7
        result.extend((start + offset) % 7 for offset in range(span + 1))
    return result


def _day(name: str) -> int:
    try:
        return DAY_NAMES.index(name[:3])
    except ValueError:
        raise CallingHoursError(f"{name!r} is not a day; use {', '.join(DAY_NAMES)}.") from None


def _window(text: str) -> Window:
    match = _WINDOW.match(text)
    if not match:
        raise CallingHoursError(f"{text!r} is not a time window like 09:00-20:00.")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise CallingHoursError(f"{text!r} has an impossible time.")
    start = time(h1, m1)
    end = time.max if h2 == 24 else time(h2, m2)
    if end <= start:
        raise CallingHoursError(f"{text!r} ends before it starts; split a window that crosses midnight.")
    return Window(start, end)


def next_call_time(
    moment: datetime, hours: CallingHours, tz: ZoneInfo, *, closed: frozenset[date] = frozenset(),
    horizon_days: int = 21,
) -> datetime | None:
    """The first instant at or after `moment` inside the calling hours, in UTC; None if none soon.

    Windows are read in the site's local time, day by day, so a daylight-saving change moves
    them with the clock on the wall rather than with UTC.
    """
    local_day = moment.astimezone(tz).date()
    for offset in range(horizon_days + 1):
        day = local_day + timedelta(days=offset)
        if day in closed:
            continue
        for window in hours.windows(day.weekday()):
            start = datetime.combine(day, window.start, tzinfo=tz).astimezone(UTC)
            if window.end == time.max:
                end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz).astimezone(UTC)
            else:
                end = datetime.combine(day, window.end, tzinfo=tz).astimezone(UTC)
            if moment < end:
                return max(moment, start)
    return None
