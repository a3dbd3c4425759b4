"""The calling window: the site's hours and the lead's own local window, holidays, the backlog ramp."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from leads.models import Site
from telephony.call_window import lead_local_time, next_allowed, wait_reason, window_around, zones_in_force
from telephony.calling_hours import CallingHours, parse_local_hours
from telephony.local_time import public_holiday
from telephony.policy import CallSettings, call_settings_for

MOSCOW, VLADIVOSTOK = "+74951234567", "+74232123456"
KALININGRAD, KAMCHATKA = "+74012123456", "+74152123456"
NEVADA, NEW_YORK, BERLIN = "+17755551234", "+12125551234", "+4930123456"
RU_MOBILE = "+79123456789"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def cfg_for(settings, *, hours: str = "mon-sun 00:00-24:00", tz: str = "Europe/Moscow", lead: str = "08:00-21:00",
            by_country: str = "", holidays: bool = False, ramp: int = 0, **site_fields) -> CallSettings:
    settings.CALLING_HOURS, settings.LEAD_LOCAL_HOURS = hours, lead
    settings.LEAD_LOCAL_HOURS_BY_COUNTRY, settings.SKIP_HOLIDAYS, settings.WINDOW_RAMP_MINUTES = by_country, holidays, ramp
    return call_settings_for(Site(domain="shop.example", time_zone=tz, **site_fields))


# --- the lead's own window --------------------------------------------------------------------
def test_inside_every_rule_the_answer_is_now(settings):
    now = utc(2027, 6, 15, 9, 0)  # 12:00 in Moscow

    assert next_allowed(cfg_for(settings), now, phone=MOSCOW) == now


def test_a_vladivostok_lead_waits_for_its_own_morning(settings):
    cfg = cfg_for(settings)
    now = utc(2027, 6, 15, 20, 0)  # 23:00 in Moscow, 06:00 in Vladivostok

    assert next_allowed(cfg, now, phone=VLADIVOSTOK) == utc(2027, 6, 15, 22, 0)  # 08:00 there
    assert wait_reason(cfg, now, phone=VLADIVOSTOK) == "outside the lead's local hours, 06:00 in Asia/Vladivostok"


def test_a_moscow_lead_at_23_00_waits_for_08_00_moscow_time(settings):
    cfg = cfg_for(settings)
    now = utc(2027, 6, 15, 20, 0)

    assert next_allowed(cfg, now, phone=MOSCOW) == utc(2027, 6, 16, 5, 0)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Summer: 05:30 UTC is 07:30 in Kaliningrad (08:30 in Bucharest, the library's zone): wait.
        (utc(2027, 7, 15, 5, 30), utc(2027, 7, 15, 6, 0)),
        (utc(2027, 7, 15, 18, 30), utc(2027, 7, 15, 18, 30)),  # 20:30 there (21:30 in Bucharest): call
        (utc(2027, 7, 15, 19, 0), utc(2027, 7, 16, 6, 0)),  # 21:00 there: tomorrow
        (utc(2027, 1, 15, 5, 30), utc(2027, 1, 15, 6, 0)),  # winter: both UTC+2
    ],
)
def test_kaliningrad_is_read_in_its_own_zone_summer_and_winter(settings, now, expected):
    assert next_allowed(cfg_for(settings), now, phone=KALININGRAD) == expected


def test_a_number_across_a_zone_line_must_be_inside_the_window_in_both_zones(settings):
    cfg = cfg_for(settings)

    # 07:30 in Los Angeles, 08:30 in Boise: wait for 08:00 Pacific.
    assert next_allowed(cfg, utc(2027, 6, 15, 14, 30), phone=NEVADA) == utc(2027, 6, 15, 15, 0)
    # 20:30 in Los Angeles, 21:30 in Boise: the day is over in one of them.
    assert next_allowed(cfg, utc(2027, 6, 16, 3, 30), phone=NEVADA) == utc(2027, 6, 16, 15, 0)
    assert "America/Boise" in wait_reason(cfg, utc(2027, 6, 16, 3, 30), phone=NEVADA)


def test_a_russian_mobile_is_read_in_the_sites_zone_when_the_site_is_in_russia(settings):
    cfg = cfg_for(settings, tz="Europe/Moscow")
    now = utc(2027, 6, 15, 5, 30)  # 08:30 in Moscow, 07:30 in Kaliningrad, 17:30 in Kamchatka

    assert next_allowed(cfg, now, phone=RU_MOBILE) == now
    assert lead_local_time(cfg, now, phone=RU_MOBILE) == (
        "08:30 in Europe/Moscow (the site's zone: the number does not tell the lead's)")


def test_a_site_zone_with_moscows_clock_counts_as_one_of_russias(settings):
    cfg = cfg_for(settings, tz="Europe/Volgograd")  # not in the library's list, same clock as Moscow

    assert zones_in_force(cfg, utc(2027, 6, 15, 9, 0), phone=RU_MOBILE).zones == (ZoneInfo("Europe/Volgograd"),)


def test_a_russian_mobile_called_from_a_site_abroad_must_suit_every_russian_zone(settings):
    cfg = cfg_for(settings, tz="Europe/Berlin")

    # In summer Kaliningrad's 08:00 is 06:00 UTC and Kamchatka's 21:00 is 09:00 UTC.
    assert next_allowed(cfg, utc(2027, 6, 15, 5, 30), phone=RU_MOBILE) == utc(2027, 6, 15, 6, 0)
    assert next_allowed(cfg, utc(2027, 6, 15, 8, 59), phone=RU_MOBILE) == utc(2027, 6, 15, 8, 59)
    assert next_allowed(cfg, utc(2027, 6, 15, 9, 0), phone=RU_MOBILE) == utc(2027, 6, 16, 6, 0)


def test_zones_that_share_no_hour_fall_back_to_the_sites_zone(settings):
    # Two hours a day cannot be inside the window from Kaliningrad to Kamchatka at once.
    cfg = cfg_for(settings, tz="Europe/Berlin", lead="10:00-12:00")
    now = utc(2027, 6, 15, 6, 0)  # 08:00 in Berlin

    assert next_allowed(cfg, now, phone=RU_MOBILE) == utc(2027, 6, 15, 8, 0)  # 10:00 in Berlin
    assert "the site's zone" in lead_local_time(cfg, now, phone=RU_MOBILE)


def test_the_site_and_lead_windows_meet_across_the_sites_midnight(settings):
    # The site calls 22:00-02:00 Moscow time; Vladivostok's 08:00-21:00 is 01:00-14:00 in Moscow.
    cfg = cfg_for(settings, hours="mon-sun 00:00-02:00,22:00-24:00")

    assert next_allowed(cfg, utc(2027, 6, 15, 17, 0), phone=VLADIVOSTOK) == utc(2027, 6, 15, 22, 0)  # 01:00 Moscow
    assert next_allowed(cfg, utc(2027, 6, 15, 22, 30), phone=VLADIVOSTOK) == utc(2027, 6, 15, 22, 30)
    assert next_allowed(cfg, utc(2027, 6, 15, 23, 0), phone=VLADIVOSTOK) == utc(2027, 6, 16, 22, 0)


def test_the_windows_meet_across_days_when_the_lead_lives_in_tomorrow(settings):
    # Weekdays only, at both ends: Kamchatka's Monday 08:00 is Sunday 23:00 in Moscow.
    cfg = cfg_for(settings, hours="mon-fri 09:00-21:00", by_country="RU=mon-fri 08:00-21:00")
    friday_afternoon = utc(2027, 6, 18, 10, 0)  # Friday 13:00 Moscow, Friday 22:00 Kamchatka

    assert next_allowed(cfg, friday_afternoon, phone=KAMCHATKA) == utc(2027, 6, 21, 6, 0)  # Monday 09:00 Moscow
    assert next_allowed(cfg, friday_afternoon, phone=MOSCOW) == friday_afternoon


def test_a_countrys_own_window_overrides_the_default(settings):
    cfg = cfg_for(settings, by_country="US=09:00-20:00")

    assert next_allowed(cfg, utc(2027, 6, 15, 12, 30), phone=NEW_YORK) == utc(2027, 6, 15, 13, 0)  # 09:00 EDT
    assert next_allowed(cfg, utc(2027, 6, 15, 12, 30), phone=BERLIN) == utc(2027, 6, 15, 12, 30)


# --- daylight saving --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2027, 3, 13, 2, 0), utc(2027, 3, 13, 13, 0)),  # Saturday: 08:00 EST
        (utc(2027, 3, 14, 5, 0), utc(2027, 3, 14, 12, 0)),  # spring forward: 08:00 EDT, an hour earlier in UTC
        (utc(2027, 11, 7, 5, 0), utc(2027, 11, 7, 13, 0)),  # fall back: 08:00 EST again
    ],
)
def test_a_lead_window_follows_the_leads_own_daylight_saving(settings, now, expected):
    assert next_allowed(cfg_for(settings), now, phone=NEW_YORK) == expected  # the site (Moscow) has none


def test_a_window_in_the_hour_the_clock_skips_is_gone_that_day_not_stretched(settings):
    cfg = cfg_for(settings, lead="02:00-03:00")  # Berlin skips 02:00-03:00 on 28 March 2027

    assert next_allowed(cfg, utc(2027, 3, 27, 23, 0), phone=BERLIN) == utc(2027, 3, 29, 0, 0)


def test_a_window_in_the_hour_the_clock_repeats_is_open_both_times(settings):
    cfg = cfg_for(settings, lead="02:00-03:00")  # Berlin lives 02:00-03:00 twice on 31 October 2027

    assert next_allowed(cfg, utc(2027, 10, 31, 0, 30), phone=BERLIN) == utc(2027, 10, 31, 0, 30)  # 02:30 CEST
    assert next_allowed(cfg, utc(2027, 10, 31, 1, 30), phone=BERLIN) == utc(2027, 10, 31, 1, 30)  # 02:30 CET


# --- holidays and days without calls ----------------------------------------------------------
def test_russian_new_year_holidays_are_skipped(settings):
    cfg = cfg_for(settings, holidays=True)
    now = utc(2027, 1, 4, 9, 0)  # Monday 4 January, 12:00 in Moscow

    assert next_allowed(cfg, now, phone=MOSCOW) == utc(2027, 1, 9, 5, 0)  # Saturday 9 January, 08:00
    assert wait_reason(cfg, now, phone=MOSCOW) == "a public holiday in RU: New Year Holidays"


def test_holidays_are_those_of_the_numbers_country(settings):
    cfg = cfg_for(settings, holidays=True)
    now = utc(2027, 1, 4, 15, 0)  # 10:00 in New York: an ordinary Monday there

    assert next_allowed(cfg, now, phone=NEW_YORK) == now


def test_a_holiday_is_judged_on_the_leads_own_date(settings):
    cfg = cfg_for(settings, holidays=True, lead="00:00-24:00")
    now = utc(2027, 1, 8, 20, 0)  # still 8 January (a holiday) in Moscow, already the 9th in Vladivostok

    assert next_allowed(cfg, now, phone=VLADIVOSTOK) == now
    assert next_allowed(cfg, now, phone=MOSCOW) == utc(2027, 1, 8, 21, 0)  # Moscow's midnight


@pytest.mark.parametrize(("global_value", "site_value", "skipped"),
                         [(True, None, True), (True, False, False), (False, True, True), (False, None, False)])
def test_a_site_may_decide_otherwise_about_holidays(settings, global_value, site_value, skipped):
    cfg = cfg_for(settings, holidays=global_value, skip_holidays=site_value)
    now = utc(2027, 1, 4, 9, 0)

    assert (next_allowed(cfg, now, phone=MOSCOW) != now) is skipped


def test_the_sites_days_without_calls_still_count(settings):
    cfg = cfg_for(settings, non_calling_dates="2027-06-16")
    now = utc(2027, 6, 16, 9, 0)

    assert next_allowed(cfg, now, phone=MOSCOW) == utc(2027, 6, 17, 5, 0)  # the next day at 08:00
    assert wait_reason(cfg, now, phone=MOSCOW) == "a day without calls at the site"


def test_a_reason_names_the_sites_hours_first(settings):
    cfg = cfg_for(settings, hours="mon-sun 09:00-21:00")

    assert wait_reason(cfg, utc(2027, 6, 15, 19, 0), phone=VLADIVOSTOK) == (
        "outside the site's calling hours, 22:00 in Europe/Moscow")
    assert wait_reason(cfg, utc(2027, 6, 15, 9, 0), phone=MOSCOW) is None


# --- the backlog ramp -------------------------------------------------------------------------
def test_a_nights_backlog_is_spread_over_the_ramp_oldest_first(settings):
    cfg = cfg_for(settings, hours="mon-sun 09:00-21:00", ramp=10)
    arrivals = [utc(2027, 6, 15, 18, 1), utc(2027, 6, 15, 22, 0), utc(2027, 6, 16, 2, 0), utc(2027, 6, 16, 5, 59)]

    due = [next_allowed(cfg, arrival, phone=MOSCOW) for arrival in arrivals]  # 21:01, 01:00, 05:00, 08:59 Moscow

    opening = utc(2027, 6, 16, 6, 0)  # 09:00 Moscow
    assert due == sorted(due) and len(set(due)) == len(due)
    assert all(opening <= at < opening + timedelta(minutes=10) for at in due)
    assert due[0] < opening + timedelta(seconds=10) and due[-1] > opening + timedelta(minutes=9, seconds=50)


def test_a_lead_inside_the_window_is_not_held_back_by_the_ramp(settings):
    cfg = cfg_for(settings, hours="mon-sun 09:00-21:00", ramp=10)
    now = utc(2027, 6, 16, 6, 0, 1)

    assert next_allowed(cfg, now, phone=MOSCOW) == now


def test_the_ramp_stays_inside_a_window_shorter_than_it(settings):
    cfg = cfg_for(settings, hours="mon-sun 09:00-09:05", ramp=10)

    at = next_allowed(cfg, utc(2027, 6, 16, 5, 59), phone=MOSCOW)

    assert utc(2027, 6, 16, 6, 0) <= at < utc(2027, 6, 16, 6, 5)


# --- never outside a rule -----------------------------------------------------------------------
PHONES = [MOSCOW, VLADIVOSTOK, KALININGRAD, KAMCHATKA, NEVADA, NEW_YORK, BERLIN, RU_MOBILE, "+77012345678"]
SITE_HOURS = ["mon-sun 09:00-21:00", "mon-fri 09:00-13:00,14:00-20:00; sat 10:00-16:00", "mon-sun 00:00-02:00,22:00-24:00",
              "sun 23:00-24:00; mon 00:00-01:00", "mon-sun 00:00-24:00"]
LEAD_HOURS = ["08:00-21:00", "mon-fri 08:00-21:00", "10:00-12:00", "00:00-01:00,23:00-24:00"]
ZONES = ["Europe/Moscow", "Europe/Berlin", "Asia/Vladivostok", "America/New_York", "UTC"]


def inside(hours: CallingHours, zone: ZoneInfo, moment: datetime) -> bool:
    """Read the rule directly, without the intervals the code builds: the wall clock against the day's windows."""
    local = moment.astimezone(zone)
    return any(w.start <= local.time() and (w.end == time.max or local.time() < w.end)
               for w in hours.windows(local.weekday()))


def allowed(cfg: CallSettings, moment: datetime, phone: str) -> bool:
    if moment.astimezone(cfg.tz).date() in cfg.closed or not inside(cfg.hours, cfg.tz, moment):
        return False
    zones = zones_in_force(cfg, moment, phone=phone)
    hours = cfg.lead_hours_by_country.get(zones.country, cfg.lead_hours)
    return all(inside(hours, zone, moment) and not (cfg.skip_holidays and public_holiday(
        zones.country, moment.astimezone(zone).date())) for zone in zones.zones)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    phone=st.sampled_from(PHONES), site_hours=st.sampled_from(SITE_HOURS), lead_hours=st.sampled_from(LEAD_HOURS),
    zone=st.sampled_from(ZONES), skip_holidays=st.booleans(), ramp=st.sampled_from([0, 10, 600]),
)
def test_next_allowed_never_answers_a_moment_any_rule_forbids(moment, phone, site_hours, lead_hours, zone,
                                                              skip_holidays, ramp):
    site = Site(domain="shop.example", time_zone=zone, calling_hours=site_hours, skip_holidays=skip_holidays,
                non_calling_dates="2026-12-31 2027-06-15")
    cfg = call_settings_for(site)
    cfg = replace(cfg, lead_hours=parse_local_hours(lead_hours), ramp=timedelta(minutes=ramp))

    at = next_allowed(cfg, moment, phone=phone)

    if at is None:
        return
    assert at >= moment and allowed(cfg, at, phone), (at, zones_in_force(cfg, at, phone=phone))
    if ramp == 0 and at > moment:  # nothing earlier was allowed: spot checks before the answer
        for probe in (moment, moment + (at - moment) / 2, at - timedelta(seconds=1)):
            assert not allowed(cfg, probe, phone)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)),
    phone=st.sampled_from(PHONES), site_hours=st.sampled_from(SITE_HOURS), lead_hours=st.sampled_from(LEAD_HOURS),
    zone=st.sampled_from(ZONES), skip_holidays=st.booleans(),
)
def test_the_window_around_a_moment_agrees_with_next_allowed_at_both_ends(moment, later, phone, site_hours,
                                                                          lead_hours, zone, skip_holidays):
    """A first dial asks it of the lead's arrival, and dials now without asking next_allowed() of now when
    now is before the window's end."""
    site = Site(domain="shop.example", time_zone=zone, calling_hours=site_hours, skip_holidays=skip_holidays,
                non_calling_dates="2026-12-31 2027-06-15")
    cfg = replace(call_settings_for(site), lead_hours=parse_local_hours(lead_hours))
    end = moment + later
    window = window_around(cfg, moment, phone=phone)

    if window is None:  # refused only where next_allowed() sends the moment later
        assert next_allowed(cfg, moment, phone=phone) != moment
    else:
        assert window[0] <= moment < window[1] and next_allowed(cfg, moment, phone=phone) == moment
    if window is not None and end < window[1]:
        assert next_allowed(cfg, end, phone=phone) == end
        assert all(allowed(cfg, moment + later * share, phone) for share in (0, 0.25, 0.5, 0.75, 1))


def test_the_window_around_a_moment_ends_where_calls_stop(settings):
    cfg = cfg_for(settings, hours="mon-sun 09:00-18:00")  # Moscow; the lead's own 08:00-21:00 is wider
    morning = utc(2027, 6, 15, 7, 0)  # 10:00 in Moscow

    assert window_around(cfg, morning, phone=MOSCOW) == (utc(2027, 6, 15, 6, 0), utc(2027, 6, 15, 15, 0))
    assert window_around(cfg, utc(2027, 6, 15, 5, 0), phone=MOSCOW) is None  # 08:00: before the site's hours
    assert window_around(cfg, utc(2027, 6, 15, 15, 0), phone=MOSCOW) is None  # 18:00: closed
