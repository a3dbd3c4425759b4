"""The seller part of the scenario's contract: its settings, the next-seller endpoint, and the
results connected and seller_missed (sellers/, telephony/seller_calls.py)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from leads import pipeline
from leads.models import Lead
from sellers.models import Seller, SellerOffer
from telephony.models import CallAttempt
from telephony.tokens import attempt_token
from tests.factories import LeadFactory, SiteFactory
from tests.sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db
CALLBACK = "/api/v1/telephony/voximplant/callback/"
SELLERS = "/api/v1/telephony/voximplant/sellers/"


@pytest.fixture
def offer_call(vox):
    """A lead on an offer-mode site with two sellers, its call in progress."""
    site = SiteFactory(name="Shop", call_mode="offer", callback_promise_minutes=10)
    anna = SellerFactory(name="Anna", sites=[site])
    boris = SellerFactory(name="Boris", sites=[site])
    lead = LeadFactory(site=site, name="Ivan")
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    return lead, lead.call_attempts.get(), anna, boris


def ask(api, attempt, **fields):
    return api.post(SELLERS, {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk), **fields}, format="json")


def report(api, attempt, result, **fields):
    body = {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk), "result": result, "duration": 80, **fields}
    return api.post(CALLBACK, body, format="json")


def test_the_settings_tell_the_scenario_the_sites_call_mode(api, offer_call):
    _lead, attempt, *_ = offer_call
    query = urlencode({"attempt_id": attempt.pk, "token": attempt_token(attempt.pk)})
    body = api.get(f"{CALLBACK}?{query}").json()
    assert body["call_mode"] == "offer" and body["ring_strategy"] == "sequential"
    assert body["sellers_url"].endswith(SELLERS) and body["connect_digit"] == "1"
    assert "10" in body["promise_text"]


def test_the_next_seller_is_claimed_and_whispered_the_leads_site_and_name(api, offer_call):
    _lead, attempt, anna, boris = offer_call
    first = ask(api, attempt).json()["sellers"]
    assert [s["name"] for s in first] == ["Anna"] and first[0]["phone"] == anna.phone
    assert "Shop" in first[0]["whisper_text"] and "Ivan" in first[0]["whisper_text"]
    second = ask(api, attempt, missed=[anna.pk]).json()["sellers"]
    assert [s["name"] for s in second] == ["Boris"]
    assert ask(api, attempt, missed=[boris.pk]).json() == {"sellers": []}
    assert Seller.objects.filter(claimed_by=attempt).count() == 0
    assert set(SellerOffer.objects.values_list("result", flat=True)) == {"missed"}


def test_simultaneous_ringing_claims_several_sellers_at_once(api, offer_call):
    lead, attempt, *_ = offer_call
    lead.site.ring_strategy = "simultaneous"
    lead.site.save()
    assert sorted(s["name"] for s in ask(api, attempt).json()["sellers"]) == ["Anna", "Boris"]


def test_connected_keeps_the_seller_talk_time_and_recording_and_frees_everyone(api, offer_call):
    lead, attempt, anna, _boris = offer_call
    ask(api, attempt)
    response = report(api, attempt, "connected", seller_id=anna.pk, talk_time=65, digits="11",
                      recording_url="https://storage.example/rec.mp3", some_future_field="ignored")
    assert response.status_code == 200
    attempt.refresh_from_db()
    lead.refresh_from_db()
    assert (attempt.outcome, attempt.seller_id, attempt.talk_time) == ("connected", anna.pk, 65)
    assert attempt.record_url == "https://storage.example/rec.mp3" and attempt.seller_connected_at
    assert lead.status == Lead.Status.REACHED and lead.last_call_outcome == "connected"
    offer = SellerOffer.objects.get(seller=anna)
    assert (offer.result, offer.talk_time) == ("connected", 65) and offer.time_to_answer is not None
    assert Seller.objects.exclude(claimed_until=None).count() == 0


def test_a_seller_the_attempt_never_offered_is_not_credited(api, offer_call):
    _lead, attempt, _anna, boris = offer_call
    report(api, attempt, "connected", seller_id=boris.pk, talk_time=5)
    attempt.refresh_from_db()
    assert attempt.outcome == "connected" and attempt.seller_id is None


def test_seller_missed_makes_the_lead_call_back_due_with_an_alert(api, offer_call):
    lead, attempt, anna, _ = offer_call
    ask(api, attempt)
    assert report(api, attempt, "seller_missed", digits="1").status_code == 200
    lead.refresh_from_db()
    assert lead.status == Lead.Status.MANUAL and "Call back due" in lead.manual_reason
    assert SellerOffer.objects.get(seller=anna).result == "missed"


def test_the_sellers_endpoint_refuses_a_wrong_token_bad_input_and_an_ended_attempt(api, offer_call):
    _lead, attempt, *_ = offer_call
    assert api.post(SELLERS, {"attempt_id": attempt.pk, "token": "nope"}, format="json").status_code == 403
    assert ask(api, attempt, missed=["x"]).status_code == 400
    assert api.post(SELLERS, [1, 2], format="json").status_code == 400
    report(api, attempt, "human")
    assert ask(api, attempt).status_code == 403
    assert SellerOffer.objects.count() == 0


def test_a_recording_mode_site_rings_no_seller(api, vox):
    site = SiteFactory()
    SellerFactory(sites=[site])
    lead = LeadFactory(site=site)
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    assert ask(api, CallAttempt.objects.get(lead=lead)).json() == {"sellers": []}


def past_result_timeout(lead, settings, minutes: int) -> None:
    """The attempt started CALL_RESULT_TIMEOUT + `minutes` ago, and the lead's call step is due."""
    long_ago = timezone.now() - timedelta(seconds=settings.CALL_RESULT_TIMEOUT, minutes=minutes)
    CallAttempt.objects.filter(lead=lead).update(started_at=long_ago, created_at=long_ago)
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=timezone.now())


def test_a_long_conversation_with_a_seller_is_not_taken_for_a_lost_call(api, offer_call, settings):
    lead, attempt, *_ = offer_call
    ask(api, attempt)
    past_result_timeout(lead, settings, minutes=30)  # a recording-mode call would be lost after 10
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    attempt.refresh_from_db()
    assert attempt.status == CallAttempt.Status.STARTED


def test_a_lost_call_frees_the_sellers_it_held(api, offer_call, settings, vox):
    lead, attempt, anna, _ = offer_call
    ask(api, attempt)
    vox.set_call(attempt.session_id, successful=False)  # the history shows the session over, without a result
    past_result_timeout(lead, settings, minutes=1)
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    attempt.refresh_from_db()
    anna.refresh_from_db()
    assert attempt.status == CallAttempt.Status.LOST and anna.claimed_until is None


@pytest.mark.parametrize("url", ["not a url", "javascript:alert(1)", "https://x.example/" + "a" * 600])
def test_a_recording_link_that_cannot_be_kept_does_not_cost_the_result(api, offer_call, url):
    _lead, attempt, *_ = offer_call
    assert report(api, attempt, "human", recording_url=url).status_code == 200
    attempt.refresh_from_db()
    assert attempt.outcome == "human" and attempt.record_url == ""


def test_a_connected_call_observes_speed_to_conversation(api, offer_call, django_capture_on_commit_callbacks):
    from tests.test_metrics import scrape, value

    _lead, attempt, anna, _ = offer_call
    ask(api, attempt)
    before = scrape(api)
    with django_capture_on_commit_callbacks(execute=True):
        report(api, attempt, "connected", seller_id=anna.pk, talk_time=5)
    after = scrape(api)
    count = "leadcaller_speed_to_conversation_seconds_count"
    assert value(after, count) - value(before, count) == 1
    outcomes = "leadcaller_call_outcomes_total"
    assert value(after, outcomes, outcome="connected") - value(before, outcomes, outcome="connected") == 1


def test_the_call_back_time_is_on_the_sites_clock(api, offer_call):
    lead, attempt, *_ = offer_call
    lead.site.time_zone = "Asia/Vladivostok"
    lead.site.save()
    report(api, attempt, "seller_missed")
    lead.refresh_from_db()
    due = (timezone.now() + timedelta(minutes=10)).astimezone(ZoneInfo("Asia/Vladivostok"))
    assert f"by {due:%H:%M}" in lead.manual_reason or f"by {due - timedelta(minutes=1):%H:%M}" in lead.manual_reason
