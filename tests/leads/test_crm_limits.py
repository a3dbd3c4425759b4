"""Bitrix24's own limits: the leaky bucket's 503 and the method-time budget's 429. Waits follow
the portal's figures, hold every worker, and cost the CRM step no try."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from demo.fakes.bitrix24 import FakeBitrix24
from leads import crm
from leads.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
State = Lead.StepState


@pytest.fixture
def portal(settings):
    """An ordinary plan's portal (50 requests, drained 2/s); our share of it as shipped."""
    with FakeBitrix24() as fake:
        settings.BITRIX_WEBHOOK_URL, settings.BITRIX_PORTAL_URL = fake.webhook_url, ""
        settings.BITRIX_PLAN, settings.BITRIX_QUERY_LIMIT = "standard", 50
        settings.BITRIX_REQUESTS_PER_SECOND, settings.BITRIX_BURST = 2.0, 3
        yield fake


def run(lead: Lead) -> Lead:
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    return lead


def waits(lead: Lead) -> float:
    return (lead.crm_due_at - timezone.now()).total_seconds()


def adds(fake: FakeBitrix24) -> list:
    return [r for r in fake.requests if r.method in ("crm.lead.add", "batch")]


def test_a_full_portal_holds_every_worker_until_it_has_drained_and_costs_no_try(portal):
    portal.fail_next("crm.lead.add", "query_limit")  # somebody else filled the portal's counter
    first = run(LeadFactory())

    # (50 - 3 + 1) requests drained at 2/s: 24 s until our burst fits again
    assert first.crm_state == State.PENDING and first.crm_tries == 0
    assert 23 <= waits(first) <= 30
    second = run(LeadFactory())  # another worker, another lead: it does not ask the portal
    assert len(portal.requests) == 1
    assert second.crm_state == State.PENDING and second.crm_tries == 0 and 22 <= waits(second) <= 30


def test_the_enterprise_plan_drains_faster(portal, settings):
    settings.BITRIX_PLAN, settings.BITRIX_QUERY_LIMIT, settings.BITRIX_REQUESTS_PER_SECOND = "enterprise", 250, 5.0
    portal.fail_next("crm.lead.add", "query_limit")
    lead = run(LeadFactory())

    assert 49 <= waits(lead) <= 56  # (250 - 3 + 1) / 5


def test_a_method_over_its_time_budget_waits_for_the_reset_its_last_answer_reported(portal):
    before = time.time()
    run(LeadFactory())  # an answer of crm.lead.add: part of its budget is released at start + 600 s
    reset_at = portal.operating.time_fields("crm.lead.add")["operating_reset_at"]
    portal.use_method_time("crm.lead.add", 500.0)  # the portal's other applications used it up

    held = run(LeadFactory())
    assert held.crm_state == State.PENDING and held.crm_tries == 0
    assert reset_at + 1 <= held.crm_due_at.timestamp() <= reset_at + 7
    assert reset_at >= before + 599  # not a fixed minute
    other = run(LeadFactory())  # held for every worker: no request until then
    assert len(adds(portal)) == 2 and other.crm_state == State.PENDING and other.crm_tries == 0
    assert other.crm_due_at.timestamp() >= reset_at + 1


def test_a_batch_whose_calls_are_over_the_budget_waits_for_the_reset_too(portal):
    run(LeadFactory())
    reset_at = portal.operating.time_fields("crm.lead.add")["operating_reset_at"]
    portal.use_method_time("crm.lead.add", 500.0)
    leads = [LeadFactory() for _ in range(3)]
    run(leads[0])

    batch = [r for r in portal.requests if r.method == "batch"]
    assert len(batch) == 1 and batch[0].status == 200  # the batch itself is not counted
    held = Lead.objects.filter(pk__in=[lead.pk for lead in leads])
    assert set(held.values_list("crm_state", "crm_tries")) == {(State.PENDING, 0)}
    assert all(reset_at + 1 <= lead.crm_due_at.timestamp() <= reset_at + 7 for lead in held)


def test_without_a_reported_reset_a_refused_method_waits_one_basket_of_its_budget(portal):
    portal.use_method_time("crm.lead.add", 500.0)  # refused from our very first add
    lead = run(LeadFactory())

    assert lead.crm_tries == 0 and 59 <= waits(lead) <= 66
