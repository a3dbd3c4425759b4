"""The dashboard's cadence and SMS pieces: reached on call 1..N and the messages, filtered like the rest, as
a chart, on the page and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from messaging.models import Message
from tests.dashboard.test_stats import called, lead_at
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.fixture
def manager(client, groups):
    user = User.objects.create_user("manager-1")
    user.groups.add(Group.objects.get(name="managers"))
    client.force_login(user)
    return client


@pytest.fixture
def leads():
    """Today in Moscow: reached on calls 1, 3 and 3 at two sites, one lead never reached; and yesterday's."""
    now = timezone.now().astimezone(MOSCOW)
    today = datetime(now.year, now.month, now.day, tzinfo=MOSCOW)
    a, b = SiteFactory(name="A", time_zone="Europe/Moscow"), SiteFactory(name="B", time_zone="Europe/Moscow")
    plan = [(a, [("human", 1)]), (a, [("no_answer", 1), ("busy", 2), ("human", 3)]),
            (b, [("voicemail", 1), ("no_answer", 2), ("human", 3)]), (b, [("no_answer", 1)])]
    made = []
    for site, calls in plan:
        lead = lead_at(today + timedelta(minutes=len(made) + 1), site=site)
        for outcome, number in calls:
            called(lead, outcome, 5 * number, number=number)
        made.append(lead)
    old = lead_at(today - timedelta(hours=2), site=a)
    called(old, "human", 5, number=2)
    statuses = [Message.Status.DELIVERED, Message.Status.SENT, Message.Status.UNDELIVERED, Message.Status.FAILED]
    for lead, status in zip(made[1:], statuses[1:]):
        Message.objects.create(lead=lead, kind=Message.Kind.FIRST_MISS, phone=lead.phone, status=status)
    Message.objects.create(lead=made[3], kind=Message.Kind.LAST_MISS, phone=made[3].phone,
                           status=Message.Status.DELIVERED)
    Message.objects.create(lead=old, kind=Message.Kind.FIRST_MISS, phone=old.phone, status=Message.Status.DELIVERED)
    return {"sites": (a, b), "leads": made}


def test_the_chart_counts_reached_leads_by_the_call_that_reached_them(manager, leads):
    data = manager.get("/dashboard/charts/reached-by-call/", {"range": "today", "tz": "Europe/Moscow"}).json()

    assert data["labels"] == ["call 1", "call 2", "call 3"]
    assert data["datasets"][0]["data"] == [1, 0, 2]  # yesterday's lead reached on call 2 is not today's


def test_the_site_filter_applies_to_the_chart_and_the_messages(manager, leads):
    site_b = leads["sites"][1]
    data = manager.get("/dashboard/charts/reached-by-call/", {"range": "today", "tz": "Europe/Moscow", "site": site_b.pk}).json()
    page = manager.get("/dashboard/", {"range": "today", "tz": "Europe/Moscow", "site": site_b.pk}).context["follow_up"]

    assert data["datasets"][0]["data"] == [0, 0, 1]
    first, last = page["messages"]
    assert (first["planned"], first["sent"], first["undelivered"], first["not_sent"]) == (2, 1, 1, 1)
    assert (last["planned"], last["sent"], last["delivered"]) == (1, 1, 1)


def test_the_page_shows_the_messages_and_the_csv_has_both_figures(manager, leads):
    page = manager.get("/dashboard/", {"range": "today", "tz": "Europe/Moscow"})
    assert 'id="chart-reached-by-call"' in page.content.decode() and 'data-kind="first_miss"' in page.content.decode()

    response = manager.get("/dashboard/calls-and-messages.csv", {"range": "today", "tz": "Europe/Moscow"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[:4] == [["Reached on call", "Leads", "Share, %"], ["1", "1", "33.3"], ["2", "0", "0.0"],
                        ["3", "2", "66.7"]]
    assert rows[5][0] == "Message" and rows[6][1:] == ["3", "2", "0", "1", "1"]


def test_a_bad_filter_is_400_and_others_may_not_look(client, manager, leads):
    assert manager.get("/dashboard/calls-and-messages.csv", {"range": "custom"}).status_code == 400
    client.logout()
    assert client.get("/dashboard/charts/reached-by-call/").status_code == 302
