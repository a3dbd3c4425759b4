"""A slow portal: Bitrix24 works on a request for up to 60 s and carries it out even when we stopped
waiting. No lead may be added twice because of that, alone or in a batch, whatever the worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from demo.fakes.bitrix24 import FakeBitrix24
from leads import bitrix, crm
from leads.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
State = Lead.StepState


@pytest.fixture
def slow_portal(settings):
    """A portal that works on a scripted request for 1.5 s; its cap is 2 s here instead of 60."""
    with FakeBitrix24(slow_delay=1.5) as fake:
        settings.BITRIX_WEBHOOK_URL, settings.BITRIX_PORTAL_URL = fake.webhook_url, ""
        settings.BITRIX_BURST, settings.BITRIX_REQUESTS_PER_SECOND = 1000, 1000.0
        settings.BITRIX_MAX_EXECUTION_TIME = 2.0
        yield fake


def run(lead: Lead) -> Lead:
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    return lead


def due_now(*leads: Lead) -> None:
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(crm_due_at=timezone.now())


def cap_passed(*leads: Lead) -> None:
    """Time passes: the adds these leads sent can no longer be running at the portal."""
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(
        crm_sent_at=timezone.now() - timedelta(seconds=bitrix.settle_time() + 1))


def methods(fake: FakeBitrix24) -> list[str]:
    return [r.method for r in fake.requests]


def test_an_add_waits_for_the_portals_cap_not_for_the_read_timeout_of_other_calls(slow_portal, monkeypatch):
    monkeypatch.setattr(bitrix, "TIMEOUT", (1.0, 0.3))  # reads give up after 0.3 s
    slow_portal.fail_next("crm.lead.add", "slow")

    lead = run(LeadFactory())

    assert lead.crm_state == State.DONE and lead.bitrix_lead_id in slow_portal.leads
    assert methods(slow_portal) == ["crm.lead.add"] and lead.crm_tries == 1


def test_an_add_still_running_at_the_portal_is_not_added_again_before_it_can_have_ended(slow_portal, settings):
    settings.PROVIDER_TIMEOUT = 0.3  # we stop waiting long before the portal is done
    slow_portal.fail_next("crm.lead.add", "slow")
    lead = run(LeadFactory())
    assert lead.crm_state == State.PENDING and lead.crm_sent_at and slow_portal.leads == {}

    due_now(lead)  # the retry comes while the portal still works on the add
    lead = run(lead)
    assert methods(slow_portal) == ["crm.lead.add", "crm.lead.list"]  # looked up, found nothing, did not add
    assert lead.crm_state == State.PENDING and lead.crm_tries == 1  # waiting is not a failed try
    assert lead.crm_due_at >= lead.crm_sent_at + timedelta(seconds=bitrix.settle_time())

    slow_portal.wait_for(lambda: slow_portal.leads, timeout=5)  # the portal carries the add out
    due_now(lead)
    cap_passed(lead)
    lead = run(lead)
    assert lead.crm_state == State.DONE and lead.bitrix_lead_id == next(iter(slow_portal.leads))
    assert len(slow_portal.leads) == 1 and methods(slow_portal).count("crm.lead.add") == 1


def test_a_batch_without_an_answer_is_looked_up_in_one_request_and_none_is_added_twice(slow_portal, settings):
    settings.PROVIDER_TIMEOUT = 0.3
    leads = [LeadFactory() for _ in range(5)]
    slow_portal.fail_next("batch", "slow")
    run(leads[0])
    assert all(lead.crm_sent_at for lead in Lead.objects.filter(pk__in=[lead.pk for lead in leads]))

    due_now(*leads)  # the batch is still running at the portal
    run(leads[0])
    assert methods(slow_portal) == ["batch", "crm.lead.list"]
    assert not Lead.objects.filter(pk__in=[lead.pk for lead in leads], crm_state=State.DONE).exists()

    slow_portal.wait_for(lambda: len(slow_portal.leads) == 5, timeout=5)
    due_now(*leads)
    cap_passed(*leads)
    run(leads[0])
    assert methods(slow_portal) == ["batch", "crm.lead.list", "crm.lead.list"]
    done = Lead.objects.filter(pk__in=[lead.pk for lead in leads], crm_state=State.DONE)
    assert sorted(done.values_list("bitrix_lead_id", flat=True)) == sorted(slow_portal.leads)


def test_once_the_earlier_add_cannot_be_running_a_lead_still_missing_is_added(slow_portal):
    slow_portal.fail_next("crm.lead.add", "drop")  # the connection broke: sent, or not?
    lead = run(LeadFactory())
    due_now(lead)
    lead = run(lead)
    assert lead.crm_state == State.PENDING and methods(slow_portal) == ["crm.lead.add", "crm.lead.list"]

    due_now(lead)
    cap_passed(lead)
    lead = run(lead)
    assert lead.crm_state == State.DONE and len(slow_portal.leads) == 1
    assert methods(slow_portal) == ["crm.lead.add", "crm.lead.list", "crm.lead.list", "crm.lead.add"]


def test_a_lead_left_by_a_worker_killed_mid_add_is_not_added_again_while_that_add_may_run(slow_portal):
    lead = LeadFactory()
    # The dead worker wrote the add's time before sending it; its lease has run out since.
    Lead.objects.filter(pk=lead.pk).update(crm_sent_at=timezone.now(), crm_state=State.RUNNING,
                                           crm_due_at=timezone.now())
    lead = run(lead)

    assert methods(slow_portal) == ["crm.lead.list"] and lead.crm_state == State.PENDING
    assert slow_portal.leads == {}
