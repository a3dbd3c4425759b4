"""Dashboard figures against hand-computed fixtures: day edges in the site's zone, mixed currencies."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from dashboard import stats
from leads.models import IntakeCounter, Lead
from telephony.models import CallAttempt
from tests.factories import CallAttemptFactory, LeadFactory, PartnerFactory, SiteFactory

pytestmark = pytest.mark.django_db
MOSCOW = ZoneInfo("Europe/Moscow")


def lead_at(when: datetime, **fields) -> Lead:
    lead = LeadFactory(**fields)
    Lead.objects.filter(pk=lead.pk).update(created_at=when)
    lead.refresh_from_db()
    return lead


def called(lead: Lead, outcome: str, after_seconds: float, number: int = 1) -> None:
    """A finished call attempt, and the lead's call columns as the call step leaves them."""
    at = lead.created_at + timedelta(seconds=after_seconds)
    attempt = CallAttemptFactory(lead=lead, number=number, phone=lead.phone, status="finished",
                                 outcome=outcome)
    CallAttempt.objects.filter(pk=attempt.pk).update(created_at=at)
    Lead.objects.filter(pk=lead.pk, first_dial_at=None).update(first_dial_at=at)
    Lead.objects.filter(pk=lead.pk).update(last_call_outcome=outcome)


@pytest.fixture
def shop():
    """Two partners, two sites; five leads on 25 Nov (Moscow), one just before and one just after."""
    a, b = PartnerFactory(name="Acme"), PartnerFactory(name="Beta")
    one, two = SiteFactory(name="One"), SiteFactory(name="Two")
    day = datetime(2026, 11, 25, tzinfo=MOSCOW)
    leads = {
        "a1": lead_at(day + timedelta(minutes=1), site=one, partner=a, status="reached",
                      order_amount=Decimal("100.00"), currency="RUB"),
        "a2": lead_at(day + timedelta(hours=10), site=one, partner=a, status="manual",
                      order_amount=Decimal("50.50"), currency="USD"),
        "a3": lead_at(day + timedelta(hours=23, minutes=59), site=two, partner=a, status="scheduled",
                      order_amount=Decimal("25.00"), currency="RUB"),
        "b1": lead_at(day + timedelta(hours=12), site=two, partner=b, status="reached"),
        "x1": lead_at(day + timedelta(hours=13), site=two, partner=None, status="in_progress"),
        "before": lead_at(day - timedelta(minutes=1), site=one, partner=a, status="reached"),  # 24 Nov, 23:59
        "after": lead_at(day + timedelta(days=1), site=one, partner=a, status="reached"),  # 26 Nov, 00:00
    }
    called(leads["a1"], "human", 2)
    called(leads["a2"], "busy", 4)
    called(leads["a3"], "no_answer", 6)
    called(leads["a3"], "voicemail", 1200, number=2)
    called(leads["b1"], "human", 10)
    # Refused duplicates: 2 + 1 in the Moscow day; 9 a quarter hour before it, 4 at its end.
    IntakeCounter.objects.create(slot=day, site=one, kind="duplicate", count=2)
    IntakeCounter.objects.create(slot=day + timedelta(hours=23, minutes=45), site=one, kind="duplicate", count=1)
    IntakeCounter.objects.create(slot=day - timedelta(minutes=15), site=one, kind="duplicate", count=9)
    IntakeCounter.objects.create(slot=day + timedelta(days=1), site=one, kind="duplicate", count=4)
    return {"partners": (a, b), "sites": (one, two), "leads": leads,
            "period": stats.Period(day, day + timedelta(days=1), MOSCOW)}


def test_totals_count_only_the_moscow_day_and_keep_currencies_apart(shop):
    totals = stats.totals(shop["period"])

    assert (totals["leads"], totals["reached"], totals["manual"]) == (5, 2, 1)
    assert (totals["voicemail"], totals["no_answer"], totals["duplicates"]) == (1, 0, 3)
    assert totals["order_sums"] == {"RUB": {"sum": Decimal("125.00"), "orders": 2},
                                    "USD": {"sum": Decimal("50.50"), "orders": 1}}


def test_the_latest_call_decides_a_leads_outcome(shop):
    breakdown = stats.outcome_breakdown(shop["period"])

    assert breakdown == {"human": 2, "busy": 1, "voicemail": 1, "": 1}


def test_per_partner_rows_with_reach_rate_and_sums_per_currency(shop):
    rows = {row["partner__name"]: row for row in stats.by_partner(shop["period"])}

    assert (rows["Acme"]["leads"], rows["Acme"]["reached"], rows["Acme"]["reach_rate"]) == (3, 1, 0.3333)
    assert rows["Acme"]["order_sums"] == {"RUB": {"sum": Decimal("125.00"), "orders": 2},
                                         "USD": {"sum": Decimal("50.50"), "orders": 1}}
    assert (rows["Beta"]["leads"], rows["Beta"]["reach_rate"], rows["Beta"]["order_sums"]) == (1, 1.0, {})
    assert rows[None]["leads"] == 1  # leads without a partner are a row of their own


def test_per_site_rows_and_filters(shop):
    one, two = shop["sites"]
    rows = {row["site__name"]: row for row in stats.by_site(shop["period"])}
    only_two = stats.totals(stats.Period(shop["period"].start, shop["period"].end, MOSCOW, site_id=two.pk))

    assert (rows["One"]["leads"], rows["Two"]["leads"]) == (2, 3)
    assert only_two["leads"] == 3 and only_two["duplicates"] == 0


def test_hourly_series_for_one_day_in_the_periods_zone(shop):
    points = stats.series(shop["period"])

    assert [(p["bucket"].astimezone(MOSCOW).hour, p["leads"], p["reached"]) for p in points] == [
        (0, 1, 1), (10, 1, 0), (12, 1, 1), (13, 1, 0), (23, 1, 0)]


def test_daily_series_puts_leads_on_their_local_day(shop):
    day = shop["period"].start
    points = stats.series(stats.Period(day - timedelta(days=1), day + timedelta(days=2), MOSCOW))

    assert [(str(p["bucket"]), p["leads"]) for p in points] == [
        ("2026-11-24", 1), ("2026-11-25", 5), ("2026-11-26", 1)]


def test_speed_to_lead_median_and_90th_percentile_of_the_first_dial(shop):
    figures = stats.speed_to_lead(shop["period"])

    # First dials after 2, 4, 6 and 10 s (the second call of a3 does not count).
    assert figures == {"median": 4.0, "p90": 10.0, "dialled": 4}


def test_an_empty_period_is_all_zeros():
    now = timezone.now()
    period = stats.Period(now, now + timedelta(days=7), ZoneInfo("UTC"))

    assert stats.totals(period)["leads"] == 0 and stats.speed_to_lead(period)["median"] is None
    assert stats.by_partner(period) == [] and stats.series(period) == []


def test_the_status_figures_and_the_latest_call_figures_each_add_up_to_the_leads(shop):
    from dashboard import rollups

    totals = stats.totals(shop["period"])

    statuses = {key: totals[key] for key in rollups.STATUS_FIGURES.values()}
    calls = {**{outcome: totals[outcome] for outcome in rollups.OUTCOMES}, "not_called": totals["not_called"]}
    assert (statuses["scheduled"], statuses["in_progress"], calls["busy"], calls["not_called"]) == (1, 1, 1, 1)
    assert sum(statuses.values()) == sum(calls.values()) == totals["leads"] == 5
    assert totals["reach_rate"] == 0.4  # 2 of 5 reached


def test_order_sums_of_one_currency_per_partner_largest_first(shop):
    usd = stats.partner_sums(shop["period"], "USD")
    rub = stats.partner_sums(shop["period"], "RUB")

    assert [(row["partner__name"], row["sum"], row["orders"]) for row in rub] == [("Acme", Decimal("125.00"), 2)]
    assert [(row["partner__name"], row["sum"]) for row in usd] == [("Acme", Decimal("50.50"))]
    assert stats.partner_sums(shop["period"], "EUR") == []
