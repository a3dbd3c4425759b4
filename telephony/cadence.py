"""A call cadence: when each call of a lead that was not reached is due, written as a list of delays.

Syntax: items separated by commas; item N is how long to wait after call N-1 before call N. The
first item is the first call and must be `0` (a lead is called the moment it arrives).
- `5m`, `30m`, `2h`, `1h30m`, `45s`: that long after the previous call ended (elapsed time).
- `1d`, `2d`: that many calendar days later, at the same clock time in the lead's zone.
- `next day 10:00`, `+2d 17:00`: that many days later (next day = +1d), at that clock time in the
  lead's zone (from the number; else the site's zone).
Example: `0, 5m, 30m, 2h, next day 10:00, +2d 17:00` (the default: six calls over three days).
A due time is only a wish: the call window (telephony/call_window.py) still moves it into the site's
hours and the lead's local window, off holidays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

DEFAULT_CADENCE = "0, 5m, 30m, 2h, next day 10:00, +2d 17:00"
MAX_CALLS = 20
MAX_SPAN = timedelta(days=14)  # one step longer than this is surely a typo (and beyond the call window's horizon)
_ELAPSED = re.compile(r"^(?:\d+[smh])+$")
_PART = re.compile(r"(\d+)([smh])")
_DAYS = re.compile(r"^(\d+)d$")
_AT_DAY = re.compile(r"^(?:next\s+day|\+(\d+)d)\s+(\d{1,2}):(\d{2})$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours"}


class CadenceError(ValueError):
    """The text is not a valid cadence; the message says which item and why."""


@dataclass(frozen=True)
class Delay:
    """One step: elapsed time, or whole days later (at `at`, or at the same clock time when None)."""

    elapsed: timedelta = timedelta(0)
    days: int = 0
    at: time | None = None

    def after(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The due time this step gives after `moment` (UTC in, UTC out), in the clock of `zone`."""
        if not self.days:
            return moment + self.elapsed
        local = moment.astimezone(zone)
        wall = datetime.combine(local.date() + timedelta(days=self.days), self.at or local.time().replace(tzinfo=None))
        return _wall_to_utc(wall, zone)

    def span(self) -> timedelta:
        return self.elapsed + timedelta(days=self.days)


@dataclass(frozen=True)
class Cadence:
    delays: tuple[Delay, ...]  # delays[0] is the first call's (always 0)

    @property
    def calls(self) -> int:
        return len(self.delays)

    def next_due(self, *, calls_made: int, after: datetime, zone: ZoneInfo) -> datetime | None:
        """When call `calls_made + 1` is due, counting from `after` (the end of the last call);
        None when the cadence has no more calls."""
        if calls_made >= self.calls:
            return None
        return self.delays[calls_made].after(after, zone)


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """A clock time in `zone` as a UTC moment. A time skipped by a spring-forward change (02:30 in
    Berlin on the last Sunday of March) is read with the offset before it, i.e. one hour later on
    the new clock; a repeated autumn time is its first occurrence."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # fold=0: the offset before the change (PEP 495)


@lru_cache(maxsize=256)
def parse_cadence(text: str) -> Cadence:
    items = [item.strip().lower() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise CadenceError(_("Write the delays separated by commas, e.g. %(example)s.") % {"example": DEFAULT_CADENCE})
    if len(items) > MAX_CALLS:
        raise CadenceError(_("At most %(n)d calls per lead; this cadence has %(count)d.")
                           % {"n": MAX_CALLS, "count": len(items)})
    delays = tuple(_delay(item, index) for index, item in enumerate(items, start=1))
    if delays[0] != Delay():
        raise CadenceError(_("The first item is the first call, made at once: it must be 0."))
    for index, delay in enumerate(delays[1:], start=2):
        if delay == Delay():
            raise CadenceError(_("Item %(n)d: a later call needs a delay above 0.") % {"n": index})
        if delay.span() > MAX_SPAN:
            raise CadenceError(_("Item %(n)d: at most %(days)d days between two calls.")
                               % {"n": index, "days": MAX_SPAN.days})
    return Cadence(delays)


def _delay(item: str, index: int) -> Delay:
    compact = item.replace(" ", "")
    if compact == "0":
        return Delay()
    if _ELAPSED.match(compact):
        return Delay(elapsed=sum((timedelta(**{_UNITS[unit]: int(n)}) for n, unit in _PART.findall(compact)),
                                 timedelta(0)))
    days = _DAYS.match(compact)
    if days:
        return Delay(days=int(days.group(1)))
    at_day = _AT_DAY.match(" ".join(item.split()))
    if at_day:
        count, hour, minute = int(at_day.group(1) or 1), int(at_day.group(2)), int(at_day.group(3))
        if hour > 23 or minute > 59:
            raise CadenceError(_("Item %(n)d (%(item)s): %(hour)02d:%(minute)02d is not a time of day.")
                               % {"n": index, "item": item, "hour": hour, "minute": minute})
        if count < 1:
            raise CadenceError(_("Item %(n)d (%(item)s): at least one day later.") % {"n": index, "item": item})
        return Delay(days=count, at=time(hour, minute))
    raise CadenceError(_("Item %(n)d (%(item)s) is not understood: use 0, 5m, 2h, 1h30m, 1d, next day 10:00 "
                         "or +2d 17:00.") % {"n": index, "item": item})


def cadence_from_retry(max_attempts: int, retry_minutes: int) -> str:
    """The cadence equivalent to the old fixed retry (used by the migration that replaced it)."""
    return ", ".join(["0"] + [f"{max(1, retry_minutes)}m"] * (max(1, max_attempts) - 1))
