"""Which seller gets the call: availability, the routing orders, fairness, and two leads racing."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import SellerRouting
from sellers.models import Seller, SellerOffer
from sellers.routing import sellers_claim, sellers_missed, sellers_release
from telephony.models import CallAttempt
from tests.conftest import run_together
from tests.factories import CallAttemptFactory, LeadFactory, PartnerFactory, SiteFactory
from tests.sellers.factories import SellerFactory


def attempt_for(site, **lead):
    lead = LeadFactory(site=site, **lead)
    return CallAttemptFactory(lead=lead, status=CallAttempt.Status.STARTED)


def claimed_names(attempt, count=1):
    return [pick.seller.name for pick in sellers_claim(attempt=attempt, count=count)]


@pytest.fixture
def site(db):
    return SiteFactory(domain="shop.example", name="Shop")


def test_only_free_sellers_inside_their_hours_serving_the_site_are_offered(site):
    SellerFactory(name="ok", sites=[site])
    SellerFactory(name="inactive", sites=[site], is_active=False)
    SellerFactory(name="break", sites=[site], on_break=True)
    SellerFactory(name="other site", sites=[SiteFactory()])
    now = timezone.now()
    SellerFactory(name="off duty", sites=[site], working_hours=f"mon-sun {(now + timedelta(hours=2)):%H}:00-"
                                                               f"{(now + timedelta(hours=3)):%H}:00")
    SellerFactory(name="on a call", sites=[site], claimed_until=now + timedelta(minutes=5))
    SellerFactory(name="stale claim", sites=[site], claimed_until=now - timedelta(seconds=1))
    assert sorted(claimed_names(attempt_for(site), count=10)) == ["ok", "stale claim"]


def test_a_partners_seller_takes_the_partners_leads_from_any_site(site):
    partner = PartnerFactory()
    seller = SellerFactory(name="partner's")
    seller.partners.add(partner)
    assert claimed_names(attempt_for(site, partner=partner)) == ["partner's"]
    assert claimed_names(attempt_for(site)) == []


def test_a_claimed_seller_is_not_offered_to_another_lead_until_released(site):
    SellerFactory(name="only", sites=[site])
    first, second = attempt_for(site), attempt_for(site)
    assert claimed_names(first) == ["only"]
    assert claimed_names(second) == []
    sellers_release(attempt=first)
    assert claimed_names(second) == ["only"]
    assert list(SellerOffer.objects.filter(attempt=first).values_list("result", flat=True)) == ["missed"]


def test_an_offer_is_kept_on_the_attempts_row_so_its_end_frees_the_seller_when_read_afresh(site):
    SellerFactory(name="only", sites=[site])
    offered, never = attempt_for(site), attempt_for(site)
    assert claimed_names(offered) == ["only"]

    flags = dict(CallAttempt.objects.values_list("pk", "sellers_offered"))
    assert (flags[offered.pk], flags[never.pk]) == (True, False)
    sellers_release(attempt=CallAttempt.objects.get(pk=offered.pk))
    assert Seller.objects.get(name="only").claimed_by is None
    assert claimed_names(never) == ["only"]


def test_the_next_request_of_an_attempt_skips_the_sellers_it_already_rang(site):
    for name in ("a", "b"):
        SellerFactory(name=name, sites=[site])
    attempt = attempt_for(site)
    first = claimed_names(attempt)
    sellers_missed(attempt=attempt, seller_ids=list(Seller.objects.filter(name__in=first).values_list("pk", flat=True)))
    second = claimed_names(attempt)
    assert sorted(first + second) == ["a", "b"]
    assert claimed_names(attempt) == []  # everyone was rung once


def test_round_robin_spreads_many_leads_evenly_over_the_sellers(site):
    for name in ("a", "b", "c"):
        SellerFactory(name=name, sites=[site])
    taken = Counter()
    order = []
    for _ in range(30):
        attempt = attempt_for(site)
        name = claimed_names(attempt)[0]
        taken[name] += 1
        order.append(name)
        sellers_release(attempt=attempt, connected_id=Seller.objects.get(name=name).pk)
    assert taken == {"a": 10, "b": 10, "c": 10}
    assert order[:6] == ["a", "b", "c", "a", "b", "c"]


@pytest.mark.parametrize("routing", [SellerRouting.LEAST_RECENT, SellerRouting.CRM_OWNER])
def test_least_recent_routing_is_fair_over_many_leads(site, routing):
    site.seller_routing = routing
    site.save()
    for name in ("a", "b", "c"):
        SellerFactory(name=name, sites=[site])
    taken = Counter()
    for i in range(30):
        attempt = attempt_for(site)
        picks = sellers_claim(attempt=attempt, count=1, now=timezone.now() + timedelta(seconds=i))
        taken[picks[0].seller.name] += 1
        sellers_release(attempt=attempt)
    assert taken == {"a": 10, "b": 10, "c": 10}


def test_least_recently_called_goes_to_whoever_waited_longest(site):
    site.seller_routing = SellerRouting.LEAST_RECENT
    site.save()
    now = timezone.now()
    SellerFactory(name="recent", sites=[site], last_offered_at=now - timedelta(minutes=1))
    SellerFactory(name="long ago", sites=[site], last_offered_at=now - timedelta(hours=3))
    SellerFactory(name="a while", sites=[site], last_offered_at=now - timedelta(minutes=30))
    assert claimed_names(attempt_for(site), count=3) == ["long ago", "a while", "recent"]
    offers = SellerOffer.objects.values_list("reason", flat=True)
    assert set(offers) == {SellerOffer.Reason.LEAST_RECENT}


def test_the_bitrix_responsible_user_is_offered_first_and_the_reason_is_kept(site):
    site.seller_routing, site.bitrix_assigned_by_id = SellerRouting.CRM_OWNER, 17
    site.save()
    SellerFactory(name="other", sites=[site])
    SellerFactory(name="owner", sites=[site], bitrix_user_id=17)
    attempt = attempt_for(site)
    assert claimed_names(attempt, count=2) == ["owner", "other"]
    reasons = dict(SellerOffer.objects.filter(attempt=attempt).values_list("seller__name", "reason"))
    assert reasons == {"owner": SellerOffer.Reason.CRM_OWNER, "other": SellerOffer.Reason.LEAST_RECENT}


def test_connected_seller_gets_talk_time_and_time_to_answer(site):
    seller = SellerFactory(sites=[site])
    attempt = attempt_for(site)
    sellers_claim(attempt=attempt, count=1)
    offer = SellerOffer.objects.get()
    sellers_release(attempt=attempt, connected_id=seller.pk, talk_time=95,
                    answered_at=offer.offered_at + timedelta(seconds=7))
    offer.refresh_from_db()
    seller.refresh_from_db()
    assert (offer.result, offer.time_to_answer, offer.talk_time) == ("connected", 7, 95)
    assert seller.claimed_until is None


@pytest.mark.django_db(transaction=True)
def test_two_leads_racing_for_one_seller_never_both_get_them():
    """Real threads with their own connections (PostgreSQL in CI): each round, two attempts claim at once."""
    site = SiteFactory()
    seller = SellerFactory(sites=[site])
    winners = Counter()
    for _round in range(10):
        attempts = [attempt_for(site), attempt_for(site)]
        picked = run_together(*(lambda a=a: sellers_claim(attempt=a, count=1) for a in attempts))
        got = {attempt.pk: picks for attempt, picks in zip(attempts, picked)}
        assert sorted(len(picks) for picks in got.values()) == [0, 1]
        winner = next(pk for pk, picks in got.items() if picks)
        assert Seller.objects.get(pk=seller.pk).claimed_by_id == winner
        assert SellerOffer.objects.filter(seller=seller, attempt__in=attempts).count() == 1
        winners[winner == attempts[0].pk] += 1
        sellers_release(attempt=CallAttempt.objects.get(pk=winner))
    assert sum(winners.values()) == 10
