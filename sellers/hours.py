"""A seller's working hours: the calling-hours day syntax, where a window may cross midnight.

`mon-fri 09:00-18:00; fri 22:00-06:00` — the last window starts on Friday evening and ends on
Saturday morning; it belongs to the day it starts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from telephony.calling_hours import CallingHoursError, clock_window, weekdays


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
        items = window_part.replace(" ", "").split(",")
        try:  # the calling-hours syntax, but a window may cross midnight
            windows = [clock_window(item) for item in items]
            days = weekdays(day_part.lower())
        except CallingHoursError as exc:
            raise WorkingHoursError(str(exc)) from None
        for item, (start, end) in zip(items, windows):
            if start == end:
                raise WorkingHoursError(f"{item!r} is empty; for a whole day write 00:00-24:00.")
        shifts.extend(Shift(day, start, end) for day in days for start, end in windows)
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
