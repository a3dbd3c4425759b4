"""The dashboard's seller pieces: speed to conversation, the per-seller table and its CSV, under the filters."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from dashboard import rollups
from dashboard.stats import Period, outcome_breakdown
from sellers import stats
from sellers.models import SellerOffer
from telephony.models import CallAttempt
from tests.dashboard.test_rollups import long_period, local_midnight, same_as_leads
from tests.dashboard.test_stats import called, lead_at
from tests.factories import SiteFactory
from tests.sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db
MOSCOW = ZoneInfo("Europe/Moscow")


def offered(lead, seller, result, *, answer=None, talk=None, joined_after=None, number=1):
    attempt, _ = CallAttempt.objects.get_or_create(
        lead=lead, number=number, defaults={"site": lead.site, "phone": lead.phone, "status": "finished",
                                            "outcome": "connected"})
    if joined_after is not None:
        CallAttempt.objects.filter(pk=attempt.pk).update(
            seller=seller, talk_time=talk, seller_connected_at=lead.created_at + timedelta(seconds=joined_after))
    return SellerOffer.objects.create(attempt=attempt, seller=seller, reason="round_robin", result=result,
                                      time_to_answer=answer, talk_time=talk)


@pytest.fixture
def floor():
    """Today in Moscow: two sites; Anna takes two leads, Boris misses one and takes one on the other site."""
    now = timezone.now().astimezone(MOSCOW)
    start = datetime(now.year, now.month, now.day, tzinfo=MOSCOW)
    main, other = SiteFactory(name="Main"), SiteFactory(name="Other")
    anna, boris = SellerFactory(name="Anna"), SellerFactory(name="Boris")
    leads = [lead_at(start + timedelta(minutes=i), site=site) for i, site in enumerate((main, main, other))]
    offered(leads[0], boris, "missed")
    offered(leads[0], anna, "connected", answer=4, talk=60, joined_after=30)
    offered(leads[1], anna, "connected", answer=8, talk=120, joined_after=50)
    offered(leads[2], boris, "connected", answer=6, talk=30, joined_after=90)
    return {"period": Period(start, start + timedelta(days=1), MOSCOW), "sites": (main, other)}


def test_speed_to_conversation_is_form_to_seller_joined(floor):
    assert stats.speed_to_conversation(floor["period"]) == {"median": 50.0, "p90": 90.0, "connected": 3}


def test_the_site_filter_narrows_speed_and_the_seller_table(floor):
    main, _other = floor["sites"]
    period = Period(floor["period"].start, floor["period"].end, MOSCOW, site_id=main.pk)
    assert stats.speed_to_conversation(period)["connected"] == 2
    rows = {row["seller__name"]: row for row in stats.seller_rows(period)}
    assert (rows["Boris"]["offered"], rows["Boris"]["answered"], rows["Boris"]["missed"]) == (1, 0, 1)


def test_the_seller_table_counts_offers_answers_misses_median_answer_and_talk(floor):
    rows = [(r["seller__name"], r["offered"], r["answered"], r["missed"], r["median_answer"], r["talk_time"])
            for r in stats.seller_rows(floor["period"])]
    assert rows == [("Anna", 2, 2, 0, 4, 180), ("Boris", 2, 1, 1, 6, 30)]


def test_an_empty_range_has_no_speed_and_no_rows(db):
    start = datetime(2020, 1, 1, tzinfo=MOSCOW)
    period = Period(start, start + timedelta(days=1), MOSCOW)
    assert stats.speed_to_conversation(period) == {"median": None, "p90": None, "connected": 0}
    assert stats.seller_rows(period) == []


def test_the_page_shows_the_seller_panel_and_the_csv_has_the_same_numbers(client, groups, floor):
    user = User.objects.create_user("manager")
    user.groups.add(Group.objects.get(name="managers"))
    client.force_login(user)
    page = client.get("/dashboard/", {"range": "7", "tz": "Europe/Moscow"}).content.decode()
    assert 'id="table-sellers"' in page and 'data-total="conversation-median">50.0 s' in page
    response = client.get("/dashboard/sellers.csv", {"range": "7", "tz": "Europe/Moscow"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Seller" and rows[1:] == [["Anna", "2", "2", "0", "4", "180"], ["Boris", "2", "1", "1", "6", "30"]]
    assert client.get("/dashboard/sellers.csv", {"range": "bogus"}).status_code == 400


def test_the_seller_csv_is_for_managers_only(client):
    assert client.get("/dashboard/sellers.csv").status_code == 302


def test_the_daily_rollups_count_connected_and_seller_missed_like_the_leads(monkeypatch):
    day = local_midnight(10, MOSCOW)
    site = SiteFactory(time_zone="Europe/Moscow")
    called(lead_at(day + timedelta(hours=1), site=site, status="reached"), "connected", 5)
    called(lead_at(day + timedelta(hours=2), site=site, status="manual"), "seller_missed", 5)
    rollups.rollups_refresh()
    period = long_period(MOSCOW)
    assert same_as_leads(monkeypatch, period)
    breakdown = outcome_breakdown(period)
    assert (breakdown["connected"], breakdown["seller_missed"]) == (1, 1)
