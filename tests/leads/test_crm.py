"""The CRM step against the fake Bitrix24: each lead created once, with the right fields, whatever fails."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads import bitrix, crm
from leads.bitrix import BitrixClient
from leads.crm_leads import lead_fields
from leads.models import Lead, LeadEvent
from tests.factories import LeadFactory, PartnerFactory, SiteFactory

pytestmark = pytest.mark.django_db
State = Lead.StepState


def run_crm(lead: Lead) -> Lead:
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    return lead


def make_due(lead: Lead) -> None:
    Lead.objects.filter(pk=lead.pk).update(crm_due_at=timezone.now())


def cap_passed(lead: Lead) -> None:
    """What the portal's execution cap does with time: an add sent then can no longer be running."""
    Lead.objects.filter(pk=lead.pk, crm_sent_at__isnull=False).update(
        crm_sent_at=timezone.now() - timedelta(seconds=bitrix.settle_time() + 1))


def calls(b24, method: str) -> list:
    return [r for r in b24.requests if r.method == method]


def test_a_lead_is_created_in_bitrix24_with_its_fields_and_our_id(b24):
    site = SiteFactory(domain="shop.example", name="Shop", bitrix_source_id="WEBFORM", bitrix_assigned_by_id=7)
    partner = PartnerFactory(bitrix_company_id=2919)
    lead = run_crm(LeadFactory(
        site=site, partner=partner, name="Анна", phone="+79123456789", email="anna@example.com",
        comment="перезвоните", order_amount=Decimal("1500.50"), currency="RUB", utm_source="ya", utm_campaign="sale"))

    assert lead.crm_state == State.DONE and lead.crm_sent_at is None
    stored = b24.leads[lead.bitrix_lead_id]
    assert stored["TITLE"] == "Shop: Анна" and stored["NAME"] == "Анна"
    assert [p["VALUE"] for p in stored["PHONE"]] == ["+79123456789"]
    assert [e["VALUE"] for e in stored["EMAIL"]] == ["anna@example.com"]
    assert (stored["COMMENTS"], stored["SOURCE_ID"], str(stored["ASSIGNED_BY_ID"])) == ("перезвоните", "WEBFORM", "7")
    assert (Decimal(str(stored["OPPORTUNITY"])), stored["CURRENCY_ID"]) == (Decimal("1500.50"), "RUB")
    assert (stored["UTM_SOURCE"], stored["UTM_CAMPAIGN"]) == ("ya", "sale")
    assert stored["SOURCE_DESCRIPTION"].startswith("Leadcaller: shop.example")
    assert (stored["ORIGINATOR_ID"], stored["ORIGIN_ID"]) == ("leadcaller", str(lead.public_id))
    assert lead.events.filter(step="crm", kind=LeadEvent.Kind.STEP_DONE).exists()
    assert calls(b24, "crm.lead.list") == []  # a fresh lead costs no look-up


def test_without_bitrix24_settings_the_step_is_skipped(settings):
    settings.BITRIX_WEBHOOK_URL = settings.BITRIX_PORTAL_URL = ""
    lead = run_crm(LeadFactory())

    assert lead.crm_state == State.SKIPPED


def test_an_add_whose_answer_was_lost_is_found_by_origin_id_and_not_created_twice(b24, short_bitrix_timeout):
    b24.fail_next("crm.lead.add", "timeout")
    lead = run_crm(LeadFactory())
    assert lead.crm_state == State.PENDING and lead.crm_sent_at and lead.bitrix_lead_id is None

    b24.wait_for(lambda: b24.leads)
    make_due(lead)
    lead = run_crm(lead)

    assert len(b24.leads) == 1 and lead.bitrix_lead_id == next(iter(b24.leads))
    assert len(calls(b24, "crm.lead.add")) == 1 and len(calls(b24, "crm.lead.list")) == 1


def test_a_worker_killed_after_bitrix24_answered_but_before_we_saved_creates_nothing_twice(b24):
    lead = LeadFactory()
    b24_id = BitrixClient(base_url=b24.webhook_url).call("crm.lead.add", {"fields": lead_fields(lead)})
    # left by the dead worker: the add's time, and the step running until its lease ends
    Lead.objects.filter(pk=lead.pk).update(crm_sent_at=timezone.now(), crm_state=State.RUNNING)

    lead = run_crm(lead)

    assert lead.bitrix_lead_id == b24_id and len(b24.leads) == 1


@pytest.mark.parametrize("fault", ["internal", "bad_gateway", "drop"])
def test_transient_failures_are_retried_and_end_in_exactly_one_lead(b24, fault):
    b24.fail_next("crm.lead.add", fault)
    lead = run_crm(LeadFactory())
    assert lead.crm_state == State.PENDING and lead.crm_due_at > timezone.now() and lead.crm_sent_at

    make_due(lead)
    cap_passed(lead)
    lead = run_crm(lead)

    assert lead.crm_state == State.DONE and len(b24.leads) == 1
    assert len(calls(b24, "crm.lead.list")) == 1  # looked up first: the add may have gone through


def test_a_field_bitrix24_refuses_sends_the_lead_to_manual_handling_with_its_message(settings):
    from demo.fakes.bitrix24 import FakeBitrix24

    with FakeBitrix24(reject_fields=["EMAIL"]) as fake:
        settings.BITRIX_WEBHOOK_URL, settings.BITRIX_BURST = fake.webhook_url, 100
        lead = run_crm(LeadFactory(email="x@example.com"))

    assert (lead.crm_state, lead.status) == (State.FAILED, Lead.Status.MANUAL)
    assert "EMAIL" in lead.manual_reason and lead.crm_sent_at is None


@pytest.mark.parametrize("fault", ["no_auth", "insufficient_scope", "access_denied"])
def test_invalid_credentials_are_not_retried_and_go_to_manual_handling(b24, fault):
    b24.fail_next("crm.lead.add", fault)
    lead = run_crm(LeadFactory())

    assert (lead.crm_state, lead.status) == (State.FAILED, Lead.Status.MANUAL)
    assert "credentials" in lead.manual_reason


def test_a_moved_portal_gets_the_post_again_at_its_new_address(b24):
    b24.fail_next("crm.lead.add", "moved")
    lead = run_crm(LeadFactory())

    assert lead.crm_state == State.DONE and len(b24.leads) == 1
    assert [r.portal for r in calls(b24, "crm.lead.add")] == ["main", "new"]


def test_retries_that_never_succeed_end_in_manual_handling(b24):
    lead = LeadFactory()
    b24.fail_next("crm.lead.add", "internal", times=50)
    b24.fail_next("crm.lead.list", "internal", times=50)
    for _ in range(8):
        lead = run_crm(lead)
        make_due(lead)

    assert lead.status == Lead.Status.MANUAL and "gave up after 8 tries" in lead.manual_reason


# --- bursts: batches and the rate limit -------------------------------------------------------
def test_a_backlog_goes_out_in_batches_and_each_lead_gets_its_own_id(b24):
    leads = [LeadFactory() for _ in range(7)]
    run_crm(leads[0])

    assert len(calls(b24, "batch")) == 1 and calls(b24, "crm.lead.add") == []
    ids = [Lead.objects.get(pk=lead.pk).bitrix_lead_id for lead in leads]
    assert None not in ids and len(set(ids)) == 7
    assert {b24.leads[i]["ORIGIN_ID"] for i in ids} == {str(lead.public_id) for lead in leads}
    for lead in leads[1:]:  # their own tasks find nothing left to do
        run_crm(lead)
    assert len(b24.requests) == 1


def test_one_refused_lead_in_a_batch_does_not_hold_back_the_others(settings):
    from demo.fakes.bitrix24 import FakeBitrix24

    with FakeBitrix24(reject_fields=["EMAIL"]) as fake:
        settings.BITRIX_WEBHOOK_URL, settings.BITRIX_BURST = fake.webhook_url, 100
        bad = LeadFactory(email="x@example.com")
        good = [LeadFactory() for _ in range(3)]
        run_crm(good[0])

    assert Lead.objects.get(pk=bad.pk).status == Lead.Status.MANUAL
    assert all(Lead.objects.get(pk=lead.pk).crm_state == State.DONE for lead in good)


def test_a_burst_of_200_leads_reaches_bitrix24_within_the_rate_limit_and_none_is_lost(settings):
    from demo.fakes.bitrix24 import FakeBitrix24

    with FakeBitrix24(burst=5, drain_per_second=2.0) as fake:  # stricter than the real portal
        settings.BITRIX_WEBHOOK_URL = fake.webhook_url
        settings.BITRIX_REQUESTS_PER_SECOND, settings.BITRIX_BURST = 2.0, 2
        leads = [LeadFactory() for _ in range(200)]
        for lead in leads:  # 200 tasks, as the broker would deliver them
            crm.crm_step_run(lead_id=lead.pk)
        deadline = time.monotonic() + 60
        while Lead.objects.exclude(crm_state=State.DONE).exists() and time.monotonic() < deadline:
            # deferred by our own limiter: their countdown messages, delivered when due
            for lead_id in Lead.objects.filter(crm_state=State.PENDING, crm_due_at__lte=timezone.now()
                                               ).values_list("pk", flat=True):
                crm.crm_step_run(lead_id=lead_id)
            time.sleep(0.05)

        assert Lead.objects.filter(crm_state=State.DONE).count() == 200
        assert Lead.objects.filter(crm_tries__gt=1).count() == 0  # waiting for a turn is not a failed try
        assert len(fake.leads) == 200
        assert not [r for r in fake.requests if r.status == 503]
        # A token bucket lets through at most its burst plus its rate times the window: 2 + 2 x 1 s.
        assert fake.peak_rate(window=1.0) <= 4


def test_an_unreachable_webhook_leaves_its_secret_code_out_of_the_timeline(settings):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.BITRIX_WEBHOOK_URL = f"http://127.0.0.1:{port}/rest/1/s3cretc0de/"
    settings.BITRIX_PORTAL_URL = ""
    lead = run_crm(LeadFactory())

    assert lead.crm_state == State.PENDING
    messages = list(lead.events.values_list("message", flat=True))
    assert any("connection to Bitrix24 failed" in message for message in messages)
    assert not any("s3cretc0de" in message for message in messages)
