"""`make run` shows a connected call: the VoxImplant simulator plays the lead and the seller of an
offer-mode site against our live server (settings, next seller, result), and the demo registers
its sites in offer mode with a seller on duty."""

from __future__ import annotations

import pytest

from demo.fakes.voximplant import FakeVoximplant, always
from demo.launcher import demo_sites_register
from leads import pipeline
from leads.models import Lead, Site
from sellers.models import Seller, SellerOffer
from tests.conftest import wait_for
from tests.factories import LeadFactory, SiteFactory
from tests.sellers.factories import SellerFactory


@pytest.fixture
def simulated(live_server, settings, tmp_path):
    def start(policy):
        fake = FakeVoximplant(simulate=policy, fetch_settings=True, scenario_delay=0.1).start()
        settings.VOXIMPLANT_API_URL = fake.url
        settings.VOXIMPLANT_CREDENTIALS = str(fake.write_credentials(tmp_path / "vox.json"))
        settings.VOXIMPLANT_RULE_ID, settings.VOXIMPLANT_CALLER_ID = "1", "74950000000"
        settings.VOXIMPLANT_CALLBACK_SECRET = "demo-secret"
        settings.PUBLIC_BASE_URL = live_server.url
        settings.CALLING_HOURS, settings.LEAD_LOCAL_HOURS, settings.SKIP_HOLIDAYS = "mon-sun 00:00-24:00", "00:00-24:00", False
        fakes.append(fake)
        return fake

    fakes: list[FakeVoximplant] = []
    yield start
    for fake in fakes:
        fake.stop()


def test_the_simulator_plays_both_parties_to_a_connected_call(simulated):
    fake = simulated(always("human", duration=40))
    site = SiteFactory(call_mode="offer", record_calls=True)
    seller = SellerFactory(name="Anna", sites=[site])
    lead = LeadFactory(site=site)
    pipeline.step_run(step_name="call", lead_id=lead.pk)

    assert wait_for(lambda: Lead.objects.get(pk=lead.pk).status == Lead.Status.REACHED, timeout=15)
    attempt = lead.call_attempts.get()
    assert (attempt.outcome, attempt.seller_id, attempt.talk_time) == ("connected", seller.pk, 35)
    assert attempt.record_url.endswith(f"/records/{attempt.session_id}.mp3")
    assert [(d.method, d.status) for d in fake.deliveries] == [("GET", 200), ("POST", 200), ("POST", 200)]
    assert SellerOffer.objects.get().result == "connected"


def test_with_no_seller_on_duty_the_simulated_lead_is_promised_a_call_back(simulated):
    simulated(always("human"))
    lead = LeadFactory(site=SiteFactory(call_mode="offer"))
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    assert wait_for(lambda: Lead.objects.get(pk=lead.pk).status == Lead.Status.MANUAL, timeout=15)
    assert lead.call_attempts.get().outcome == "seller_missed"


@pytest.mark.django_db
def test_the_demo_registers_its_sites_in_offer_mode_with_a_seller_on_duty():
    demo_sites_register("http://127.0.0.1:8000")
    demo_sites_register("http://127.0.0.1:8000")  # again: nothing doubled
    sites = Site.objects.filter(domain__in=["127.0.0.1", "localhost"])
    assert {s.call_mode for s in sites} == {"offer"} and len(sites) == 2
    seller = Seller.objects.get()
    assert set(seller.sites.all()) == set(sites)
