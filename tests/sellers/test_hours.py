"""Working hours across midnight and in the seller's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from sellers.hours import WorkingHoursError, on_duty, parse_working_hours
from sellers.models import Seller

MSK, VLA = ZoneInfo("Europe/Moscow"), ZoneInfo("Asia/Vladivostok")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("moment", "expected"), [
    ("2026-12-04 18:59", False),  # Friday 21:59 in Moscow
    ("2026-12-04 19:00", True),  # Friday 22:00: the night shift begins
    ("2026-12-04 23:30", True),  # Saturday 02:30: still Friday's shift
    ("2026-12-05 02:59", True),
    ("2026-12-05 03:00", False),  # Saturday 06:00: over
    ("2026-12-05 19:30", False),  # Saturday 22:30: no shift starts on Saturday
    ("2026-12-06 00:30", False),  # Sunday 03:30
])
def test_a_window_across_midnight_belongs_to_the_day_it_starts_on(moment, expected):
    assert on_duty("fri 22:00-06:00", MSK, at(moment)) is expected


def test_the_same_instant_is_inside_hours_in_one_zone_and_outside_in_another():
    moment = at("2026-12-04 06:30")  # 09:30 in Moscow, 16:30 in Vladivostok
    assert on_duty("mon-fri 09:00-12:00", MSK, moment)
    assert not on_duty("mon-fri 09:00-12:00", VLA, moment)
    assert on_duty("mon-fri 16:00-18:00", VLA, moment)


def test_a_week_wrapping_day_range_and_several_windows():
    hours = "sun-mon 08:00-10:00,20:00-02:00"
    assert on_duty(hours, MSK, at("2026-12-06 05:30"))  # Sunday 08:30
    assert on_duty(hours, MSK, at("2026-12-07 22:00"))  # Tuesday 01:00, from Monday's 20:00
    assert not on_duty(hours, MSK, at("2026-12-08 22:00"))  # Wednesday 01:00


@pytest.mark.parametrize("text", ["", "mon", "funday 09:00-10:00", "mon 9-10", "mon 25:00-26:00", "mon 10:00-10:00"])
def test_bad_hours_are_refused_with_a_message(text):
    with pytest.raises(WorkingHoursError):
        parse_working_hours(text)


@pytest.mark.parametrize("phone", ["89161234567", "+7916", "+7 916 123 45 67", "+70000000000"])
def test_a_seller_phone_must_be_a_valid_e164_number(db, phone):
    seller = Seller(name="Anna", phone=phone, time_zone="Europe/Moscow", working_hours="mon-fri 09:00-18:00")
    with pytest.raises(ValidationError) as error:
        seller.full_clean()
    assert "phone" in error.value.message_dict


def test_a_valid_seller_passes_validation(db):
    Seller(name="Anna", phone="+79161234567", time_zone="Asia/Vladivostok",
           working_hours="fri 22:00-06:00").full_clean()
