"""Who may be called: valid numbers in allowed regions, within the site's budget and the number's cooldown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from telephony.models import CallAttempt
from telephony.policy import budget_block_reason, call_settings_for, not_callable_reason
from tests.factories import LeadFactory, SiteFactory

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


def test_a_site_may_allow_more_regions():
    cfg = call_settings_for(SiteFactory(call_allowed_regions="RU, KZ"))

    assert not_callable_reason("+77012345678", cfg) is None  # Kazakhstan mobile


def dialled(lead, *, ago=timedelta(seconds=1), status=CallAttempt.Status.FINISHED):
    attempt = CallAttempt.objects.create(lead=lead, number=lead.call_attempts.count() + 1, phone=lead.phone,
                                         status=status)
    CallAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - ago)


def test_site_budget_blocks_the_call_once_used_up_today(settings):
    site = SiteFactory(call_daily_budget=2, time_zone="Europe/Moscow")
    for _ in range(2):
        dialled(LeadFactory(site=site))
    lead = LeadFactory(site=site)

    reason = budget_block_reason(lead, call_settings_for(site), timezone.now())

    assert reason and "2 calls a day" in reason


def test_refused_requests_and_yesterdays_calls_do_not_count_against_the_budget():
    site = SiteFactory(call_daily_budget=1, time_zone="Europe/Moscow")
    dialled(LeadFactory(site=site), status=CallAttempt.Status.FAILED)
    dialled(LeadFactory(site=site), ago=timedelta(days=1, hours=1))

    assert budget_block_reason(LeadFactory(site=site), call_settings_for(site), timezone.now()) is None


def test_one_number_is_not_dialled_more_than_the_daily_maximum_whatever_the_ref_or_site(settings):
    settings.CALL_MAX_PER_NUMBER = 2
    dialled(LeadFactory(phone="+79123456789", ref="a"))
    dialled(LeadFactory(phone="+79123456789", ref="b"))
    lead = LeadFactory(phone="+79123456789", ref="c")

    reason = budget_block_reason(lead, call_settings_for(lead.site), timezone.now())

    assert reason and "+79123456789" in reason


def test_zero_means_no_limit(settings):
    settings.CALL_MAX_PER_NUMBER = 0
    site = SiteFactory(call_daily_budget=0)
    for ref in "abc":
        dialled(LeadFactory(site=site, phone="+79123456789", ref=ref))

    assert budget_block_reason(LeadFactory(site=site, phone="+79123456789", ref="d"), call_settings_for(site),
                               timezone.now()) is None
