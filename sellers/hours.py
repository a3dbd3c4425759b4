"""A seller's working hours: the calling-hours day syntax, where a window may cross midnight.

`mon-fri 09:00-18:00; fri 22:00-06:00` — the last window starts on Friday evening and ends on
Saturday morning; it belongs to the day it starts on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from telephony.calling_hours import DAY_NAMES

_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class WorkingHoursError(ValueError):
    """Not valid working-hours text; the message says what is wrong."""


@dataclass(frozen=True)
class Shift:
    weekday: int  # the day the window starts on, 0 = Monday
    start: time
    end: time  # exclusive; at or before start: the window ends on the next day; 24:00 is time.max


@lru_cache(maxsize=256)
def parse_working_hours(text: str) -> tuple[Shift, ...]:
    shifts: list[Shift] = []
    groups = [group.strip() for group in text.split(";") if group.strip()]
    if not groups:
        raise WorkingHoursError("no working hours given; write e.g. 'mon-fri 09:00-18:00'.")
    for group in groups:
        try:
            day_part, window_part = group.split(None, 1)
        except ValueError:
            raise WorkingHoursError(f"{group!r} needs days and hours, e.g. 'mon-fri 09:00-18:00'.") from None
        windows = [_window(item) for item in window_part.replace(" ", "").split(",")]
        shifts.extend(Shift(day, start, end) for day in _days(day_part.lower()) for start, end in windows)
    return tuple(shifts)


def on_duty(text: str, tz: ZoneInfo, moment: datetime) -> bool:
    """Whether `moment` falls inside one of the windows, read on the wall clock of `tz`."""
    local = moment.astimezone(tz)
    today, now = local.weekday(), local.time()
    for shift in parse_working_hours(text):
        overnight = shift.end <= shift.start
        if shift.weekday == today and shift.start <= now and (overnight or now < shift.end):
            return True
        if overnight and shift.weekday == (today - 1) % 7 and now < shift.end:
            return True
    return False


def _days(text: str) -> list[int]:
    result: list[int] = []
    for item in text.split(","):
        first, _sep, last = item.partition("-")
        start, end = _day(first), _day(last or first)
        result.extend((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    return result


def _day(name: str) -> int:
    try:
        return DAY_NAMES.index(name.strip()[:3])
    except ValueError:
        raise WorkingHoursError(f"{name!r} is not a day; use {', '.join(DAY_NAMES)}.") from None


def _window(text: str) -> tuple[time, time]:
    match = _WINDOW.match(text)
    if not match:
        raise WorkingHoursError(f"{text!r} is not a time window like 09:00-18:00 or 22:00-06:00.")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise WorkingHoursError(f"{text!r} has an impossible time.")
    if (h1, m1) == (h2, m2):
        raise WorkingHoursError(f"{text!r} is empty; for a whole day write 00:00-24:00.")
    return time(h1, m1), (time.max if h2 == 24 else time(h2, m2))
