"""Who may be called: valid numbers of allowed kinds in allowed regions, within the site's budget, the
hourly ceiling and the number's cooldown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from telephony.models import CallAttempt
from telephony.policy import budget_block, call_settings_for, not_callable_reason
from tests.factories import CallAttemptFactory, LeadFactory, SiteFactory
from tests.query_plans import plan_of, statements_sent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("phone", "allowed"),
    [
        ("+79123456789", True),  # Russian mobile
        ("+74951234567", True),  # Moscow landline
        ("+7912345678", False),  # a digit short
        ("+70001234567", False),  # no such range
        ("+380501234567", False),  # Ukraine: not an allowed region by default
        ("+12025550123", False),  # US, and 555 numbers are fictional anyway
    ],
)
def test_only_valid_numbers_in_allowed_regions_are_callable(phone, allowed):
    cfg = call_settings_for(SiteFactory())

    assert (not_callable_reason(phone, cfg) is None) is allowed


@pytest.mark.parametrize(
    ("phone", "kind"),
    [
        ("+78091234567", "premium-rate"),  # the numbers of the probe in issue 14
        ("+78031234567", "premium-rate"),
        ("+78001234567", "toll-free"),
        ("+78081234567", "personal number"),
    ],
)
def test_numbers_of_kinds_a_site_does_not_allow_are_not_called_and_the_reason_says_which(phone, kind):
    reason = not_callable_reason(phone, call_settings_for(SiteFactory()))

    assert reason and phone in reason and kind in reason


@pytest.mark.parametrize(
    ("phone", "allowed"),
    [
        ("+445612345678", False),  # VoIP
        ("+447640123456", False),  # pager
        ("+445512345678", False),  # UAN
        ("+449012345678", False),  # premium rate
        ("+447400123456", True),  # mobile
        ("+441212345678", True),  # fixed line
    ],
)
def test_by_default_only_mobile_and_fixed_line_numbers_are_called(phone, allowed):
    cfg = call_settings_for(SiteFactory(call_allowed_regions="GB"))

    assert (not_callable_reason(phone, cfg) is None) is allowed


def test_a_site_may_allow_toll_free_numbers_but_never_premium_rate_ones():
    cfg = call_settings_for(SiteFactory(call_number_types="mobile,toll_free"))

    assert not_callable_reason("+78001234567", cfg) is None
    assert not_callable_reason("+74951234567", cfg) is not None  # fixed line is no longer ticked
    assert not_callable_reason("+78091234567", cfg) is not None


@pytest.mark.parametrize(("types", "allowed"), [("", True), ("mobile", True), ("fixed_line", True), ("toll_free", False)])
def test_a_number_that_may_be_mobile_or_fixed_line_is_called_when_either_is_allowed(types, allowed):
    cfg = call_settings_for(SiteFactory(call_allowed_regions="US", call_number_types=types))

    assert (not_callable_reason("+12015550123", cfg) is None) is allowed  # US ranges do not tell the two apart


def test_the_global_kinds_of_numbers_apply_where_a_site_ticks_none(settings):
    settings.CALL_NUMBER_TYPES = ("mobile",)

    assert not_callable_reason("+74951234567", call_settings_for(SiteFactory())) is not None
    assert not_callable_reason("+79123456789", call_settings_for(SiteFactory())) is None


def test_a_site_may_allow_more_regions():
    cfg = call_settings_for(SiteFactory(call_allowed_regions="RU, KZ"))

    assert not_callable_reason("+77012345678", cfg) is None  # Kazakhstan mobile


def dialled(lead, *, ago=timedelta(seconds=1), status=CallAttempt.Status.FINISHED):
    attempt = CallAttemptFactory(lead=lead, number=lead.call_attempts.count() + 1, status=status)
    CallAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - ago)


def test_site_budget_blocks_the_call_once_used_up_today(settings):
    site = SiteFactory(call_daily_budget=2, time_zone="Europe/Moscow")
    for _ in range(2):
        dialled(LeadFactory(site=site))
    lead = LeadFactory(site=site)

    reason = _reason(lead, call_settings_for(site), timezone.now())

    assert reason and "2 calls a day" in reason


def test_refused_requests_and_yesterdays_calls_do_not_count_against_the_budget():
    site = SiteFactory(call_daily_budget=1, time_zone="Europe/Moscow")
    dialled(LeadFactory(site=site), status=CallAttempt.Status.FAILED)
    dialled(LeadFactory(site=site), ago=timedelta(days=1, hours=1))

    assert _reason(LeadFactory(site=site), call_settings_for(site), timezone.now()) is None


def test_one_number_is_not_dialled_more_than_the_daily_maximum_whatever_the_ref_or_site(settings):
    settings.CALL_MAX_PER_NUMBER = 2
    dialled(LeadFactory(phone="+79123456789", ref="a"))
    dialled(LeadFactory(phone="+79123456789", ref="b"))
    lead = LeadFactory(phone="+79123456789", ref="c")

    reason = _reason(lead, call_settings_for(lead.site), timezone.now())

    assert reason and "+79123456789" in reason


def test_zero_means_no_limit(settings):
    settings.CALL_MAX_PER_NUMBER = 0
    site = SiteFactory(call_daily_budget=0)
    for ref in "abc":
        dialled(LeadFactory(site=site, phone="+79123456789", ref=ref))

    assert _reason(LeadFactory(site=site, phone="+79123456789", ref="d"), call_settings_for(site),
                               timezone.now()) is None


def test_another_sites_calls_today_do_not_use_up_this_sites_budget():
    site = SiteFactory(call_daily_budget=1, time_zone="Europe/Moscow")
    dialled(LeadFactory(site=SiteFactory(call_daily_budget=1, time_zone="Europe/Moscow")))

    assert _reason(LeadFactory(site=site), call_settings_for(site), timezone.now()) is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_the_budget_counts_read_only_the_days_own_dials_however_many_leads_the_site_had(settings):
    settings.CALL_HOURLY_CEILING, settings.CALL_MAX_PER_NUMBER = 0, 0
    site = SiteFactory(call_daily_budget=100, time_zone="Europe/Moscow")
    for _ in range(30):
        dialled(LeadFactory(site=site), ago=timedelta(days=2))
    dialled(LeadFactory(site=site))
    lead = LeadFactory(site=site)

    counts = [plan_of(sql, params) for sql, params in
              statements_sent(lambda: budget_block(lead, call_settings_for(site), timezone.now())) if "COUNT(" in sql]

    assert len(counts) == 1
    assert counts[0].rows_read == {"telephony_callattempt": 1}, counts[0]  # today's one dial, no lead read


def _reason(lead, cfg, now) -> str | None:
    block = budget_block(lead, cfg, now)
    return block.reason if block else None


def test_the_hourly_ceiling_counts_every_sites_dials_in_the_last_hour(settings):
    settings.CALL_HOURLY_CEILING = 3
    dialled(LeadFactory(site=SiteFactory()))
    dialled(LeadFactory(site=SiteFactory()), ago=timedelta(minutes=50))
    dialled(LeadFactory(site=SiteFactory()), ago=timedelta(minutes=70))  # over an hour ago: not counted
    lead = LeadFactory()

    assert budget_block(lead, call_settings_for(lead.site), timezone.now()) is None
    dialled(LeadFactory(site=SiteFactory()))
    block = budget_block(lead, call_settings_for(lead.site), timezone.now())
    assert block.ceiling == "hourly" and block.limit == 3 and "3 calls an hour" in block.reason


def test_the_site_budget_blocks_with_the_day_it_counts_over(settings):
    site = SiteFactory(call_daily_budget=1, time_zone="Asia/Tokyo")
    dialled(LeadFactory(site=site))

    block = budget_block(LeadFactory(site=site), call_settings_for(site), timezone.now())

    start, end = block.period
    assert block.ceiling == "site_daily" and block.limit == 1
    assert start.tzinfo.key == "Asia/Tokyo" and (start.hour, end - start) == (0, timedelta(days=1))


def test_a_budget_is_on_by_default():
    from django.conf import settings

    assert call_settings_for(SiteFactory()).daily_budget == settings.CALL_DAILY_BUDGET > 0
    assert settings.CALL_HOURLY_CEILING > 0
