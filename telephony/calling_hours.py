"""Calling hours: the `CALLING_HOURS` syntax and its parsed form.

Syntax: groups separated by `;`, each `DAYS WINDOWS`. DAYS is a day (`sat`), a range (`mon-fri`,
wrapping allowed: `fri-mon`) or a comma list of those; WINDOWS is one or more `HH:MM-HH:MM`
separated by commas. Example: `mon-fri 09:00-13:00,14:00-20:00; sat 10:00-16:00`.
A day named in no group is a day without calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS = 21  # how far ahead a free moment is looked for
Interval = tuple[datetime, datetime]  # [start, end) in UTC
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


@lru_cache(maxsize=256)  # a few distinct texts, parsed before every dial
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
        for weekday in weekdays(day_part.lower()):
            days[weekday].extend(windows)
    return CallingHours(tuple(tuple(sorted(ws, key=lambda w: w.start)) for ws in days))


def parse_local_hours(text: str) -> CallingHours:
    """`LEAD_LOCAL_HOURS`: the calling-hours syntax, or bare windows (`08:00-21:00`) for every day."""
    stripped = text.strip()
    return parse_calling_hours(f"mon-sun {stripped}" if stripped[:1].isdigit() else stripped)


def parse_hours_by_country(text: str) -> dict[str, CallingHours]:
    """`US=08:00-20:00 | DE=mon-sat 09:00-20:00` -> {"US": ..., "DE": ...}."""
    result: dict[str, CallingHours] = {}
    for item in (part.strip() for part in text.split("|")):
        if not item:
            continue
        country, sep, hours = item.partition("=")
        country = country.strip().upper()
        if not sep or len(country) != 2 or not country.isalpha():
            raise CallingHoursError(f"{item!r} should read like US=08:00-20:00 (a two-letter country code).")
        result[country] = parse_local_hours(hours)
    return result


def weekdays(text: str) -> list[int]:
    """`mon-fri,sun` (lower case) -> [0, 1, 2, 3, 4, 6]; a range may wrap past Sunday."""
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


def clock_window(text: str) -> tuple[time, time]:
    """`09:00-20:00` -> (start, end), 24:00 as time.max; the two in either order."""
    match = _WINDOW.match(text)
    if not match:
        raise CallingHoursError(f"{text!r} is not a time window like 09:00-20:00.")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise CallingHoursError(f"{text!r} has an impossible time.")
    return time(h1, m1), (time.max if h2 == 24 else time(h2, m2))


def _window(text: str) -> Window:
    start, end = clock_window(text)
    if end <= start:
        raise CallingHoursError(f"{text!r} ends before it starts; split a window that crosses midnight.")
    return Window(start, end)


def next_call_time(
    moment: datetime, hours: CallingHours, tz: ZoneInfo, *, closed: frozenset[date] = frozenset(),
    horizon_days: int = HORIZON_DAYS,
) -> datetime | None:
    """The first instant at or after `moment` inside the calling hours, in UTC; None if none soon."""
    first = next(open_intervals(hours, tz, moment, closed=closed.__contains__, horizon_days=horizon_days), None)
    return None if first is None else max(moment, first[0])


PIECE = timedelta(days=1)  # merged windows are yielded once they are this long


def open_intervals(
    hours: CallingHours, tz: ZoneInfo, start: datetime, *, closed: Callable[[date], bool] = lambda day: False,
    horizon_days: int = HORIZON_DAYS,
) -> Iterator[Interval]:
    """The windows that end after `start`, as UTC intervals, in order; touching ones merged (a window
    to 24:00 and the next day's from 00:00 are one) into pieces of up to a day or so: hours open around
    the clock come as touching day-long pieces, so the first is known without reading three weeks.
    `closed(day)`: a local day without windows.

    Windows are read in `tz` day by day, so a daylight-saving change moves them with the clock on the
    wall rather than with UTC.
    """
    current: Interval | None = None
    local_day = start.astimezone(tz).date()
    for day in (local_day + timedelta(days=offset) for offset in range(horizon_days + 1)):
        if closed(day):
            continue
        for window in hours.windows(day.weekday()):
            begin = datetime.combine(day, window.start, tzinfo=tz).astimezone(UTC)
            end_day, end_time = (day + timedelta(days=1), time(0)) if window.end == time.max else (day, window.end)
            end = datetime.combine(end_day, end_time, tzinfo=tz).astimezone(UTC)
            if end <= start:
                continue
            if current is not None and begin <= current[1]:
                if current[1] - current[0] < PIECE:
                    current = (current[0], max(current[1], end))
                    continue
                yield current
                current = (current[1], max(current[1], end))
                continue
            if current is not None:
                yield current
            current = (begin, end)
    if current is not None:
        yield current


def intersect(streams: list[Iterator[Interval]]) -> Iterator[Interval]:
    """The instants inside an interval of every stream, as intervals in order (touching ones where a
    stream's pieces touch). Each stream must be ordered, its intervals not overlapping (as
    `open_intervals` gives them)."""
    current = [next(stream, None) for stream in streams]
    while current and all(current):
        low = max(begin for begin, _end in current)
        high = min(end for _begin, end in current)
        if low < high:
            yield low, high
        # Move on every stream whose interval is used up: it ends where the common part does, or before.
        for i, (_begin, end) in enumerate(current):
            if end == high or end <= low:
                current[i] = next(streams[i], None)
