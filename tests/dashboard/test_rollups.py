"""Long ranges from the daily rollups: the same counts and sums as the leads, kept current, and the
fallback to the leads where the rollups cannot answer."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from dashboard import rollups, stats, waits
from dashboard.models import DailyCell, RollupZone
from leads import handling, services
from leads.models import Lead, Site
from tests.dashboard.test_stats import called, lead_at
from tests.factories import PartnerFactory, SiteFactory

pytestmark = pytest.mark.django_db
MOSCOW, UTC, TOKYO = ZoneInfo("Europe/Moscow"), ZoneInfo("UTC"), ZoneInfo("Asia/Tokyo")


def local_midnight(days_ago: int, zone: ZoneInfo) -> datetime:
    today = timezone.now().astimezone(zone).date() - timedelta(days=days_ago)
    return datetime(today.year, today.month, today.day, tzinfo=zone)


def long_period(zone: ZoneInfo, **filters) -> stats.Period:
    """40 whole days in `zone`, ending with yesterday."""
    return stats.Period(local_midnight(40, zone), local_midnight(0, zone), zone, **filters)


def from_leads(monkeypatch, function, period):
    """The same figure computed from the leads alone (as for a short range)."""
    with monkeypatch.context() as patch:
        patch.setattr(rollups, "LONG_RANGE", timedelta(days=10_000))
        return function(period)


def every_figure(period) -> dict:
    speed = stats.speed_to_lead(period)
    return {"summary": stats.summary(period), "series": stats.series(period),
            "outcomes": stats.outcome_breakdown(period), "dialled": speed["dialled"],
            "partner_sums": {currency: stats.partner_sums(period, currency) for currency in ("RUB", "USD")}}


def same_as_leads(monkeypatch, period) -> bool:
    exact = from_leads(monkeypatch, every_figure, period)
    return every_figure(period) == exact


@pytest.fixture
def history():
    """A Moscow shop and a USD shop; leads ten days ago in Moscow, at both edges of that day."""
    a, b = PartnerFactory(name="Acme"), PartnerFactory(name="Beta")
    one = SiteFactory(name="One", time_zone="Europe/Moscow")
    two = SiteFactory(name="Two", currency="USD")
    day = local_midnight(10, MOSCOW)
    leads = {
        "first": lead_at(day, site=one, partner=a, status="reached", order_amount=Decimal("100.00"), currency="RUB"),
        "manual": lead_at(day + timedelta(hours=10), site=one, partner=a, status="manual",
                          order_amount=Decimal("50.50"), currency="USD"),
        "last": lead_at(day + timedelta(hours=23, minutes=59), site=two, partner=b, status="scheduled",
                        order_amount=Decimal("25.10"), currency="USD"),
        "before": lead_at(day - timedelta(minutes=1), site=one, partner=None, status="in_progress"),
        "next": lead_at(day + timedelta(days=1), site=two, partner=a, status="reached",
                        order_amount=Decimal("7.00"), currency="RUB"),
    }
    called(leads["first"], "human", 3)
    called(leads["manual"], "busy", 40)
    called(leads["last"], "no_answer", 700)
    called(leads["last"], "voicemail", 1900, number=2)
    called(leads["next"], "human", 9)
    rollups.rollups_refresh()
    return {"day": day, "leads": leads, "sites": (one, two), "partners": (a, b)}


def test_a_long_range_is_read_from_the_rollups_with_the_same_counts_sums_and_series(history, monkeypatch):
    period = long_period(MOSCOW)

    assert rollups.split(period)[0] is not None and DailyCell.objects.filter(zone="Europe/Moscow").exists()
    assert same_as_leads(monkeypatch, period)
    totals = stats.totals(period)
    assert (totals["leads"], totals["reached"], totals["manual"], totals["voicemail"]) == (5, 2, 1, 1)
    assert totals["order_sums"] == {"RUB": {"sum": Decimal("107.00"), "orders": 2},
                                    "USD": {"sum": Decimal("75.60"), "orders": 2}}
    partners = {row["partner__name"]: (row["leads"], row["reached"], row["order_sums"])
                for row in stats.by_partner(period)}
    assert partners["Acme"] == (3, 2, {"RUB": {"sum": Decimal("107.00"), "orders": 2},
                                       "USD": {"sum": Decimal("50.50"), "orders": 1}})
    assert partners["Beta"] == (1, 0, {"USD": {"sum": Decimal("25.10"), "orders": 1}}) and partners[None][0] == 1
    assert stats.outcome_breakdown(period) == {"human": 2, "busy": 1, "voicemail": 1, "": 1}
    # Read from the rollups, the status figures and the latest-call figures still add up to the leads.
    assert (totals["scheduled"], totals["in_progress"], totals["busy"], totals["not_called"]) == (1, 1, 1, 1)
    assert sum(totals[key] for key in rollups.STATUS_FIGURES.values()) == totals["leads"]
    assert sum(totals[key] for key in rollups.OUTCOMES) + totals["not_called"] == totals["leads"]


def test_days_are_cut_at_midnight_in_the_periods_zone_in_the_rollups_too(history, monkeypatch):
    day = history["day"].date()
    in_moscow = {row["bucket"]: row["leads"] for row in stats.series(long_period(MOSCOW))}
    in_utc = {row["bucket"]: row["leads"] for row in stats.series(long_period(UTC))}

    assert (in_moscow[day - timedelta(days=1)], in_moscow[day], in_moscow[day + timedelta(days=1)]) == (1, 3, 1)
    # In UTC (three hours behind Moscow) the Moscow day's first three hours are the day before.
    assert (in_utc[day - timedelta(days=1)], in_utc[day]) == (2, 3)
    assert same_as_leads(monkeypatch, long_period(UTC)) and same_as_leads(monkeypatch, long_period(MOSCOW))


def test_filters_by_site_and_partner_give_the_same_figures_as_the_leads(history, monkeypatch):
    one, two = history["sites"]
    a, b = history["partners"]

    for filters in ({"site_id": one.pk}, {"site_id": two.pk}, {"partner_id": a.pk},
                    {"site_id": one.pk, "partner_id": a.pk}):
        assert same_as_leads(monkeypatch, long_period(MOSCOW, **filters)), filters
    assert stats.totals(long_period(MOSCOW, site_id=two.pk))["order_sums"] == {
        "RUB": {"sum": Decimal("7.00"), "orders": 1}, "USD": {"sum": Decimal("25.10"), "orders": 1}}


def test_a_lead_reached_after_its_day_was_rolled_up_counts_once_the_refresh_has_run(history, monkeypatch):
    period = long_period(MOSCOW)
    manual = history["leads"]["manual"]
    Lead.objects.filter(pk=manual.pk).update(**services.lead_reached_values(manual, timezone.now()))
    services.lead_reached_noted(manual)

    assert stats.totals(period)["reached"] == 2  # the rollups still hold the state they were built with
    rollups.rollups_refresh()
    totals = stats.totals(period)
    assert (totals["reached"], totals["manual"]) == (3, 0) and same_as_leads(monkeypatch, period)


def test_an_opt_out_counts_among_the_totals_and_the_outcomes_from_the_rollups_as_from_the_leads(history,
                                                                                                  monkeypatch):
    period = long_period(MOSCOW)
    last = history["leads"]["last"]
    called(last, "opted_out", 2500, number=3)
    services.lead_opted_out(lead=last, reason="Pressed 9 during call 3: do not call again.")
    listed = lead_at(history["day"] + timedelta(hours=12), site=history["sites"][0], partner=None)
    services.lead_opted_out(lead=listed, reason="Not called: the number is on the do-not-call list.")
    rollups.rollups_refresh()

    totals = stats.totals(period)
    assert (totals["leads"], totals["opted_out_leads"]) == (6, 2), "the key press and the listed number"
    assert stats.outcome_breakdown(period) == {"human": 2, "busy": 1, "opted_out": 1, "": 2}
    assert same_as_leads(monkeypatch, period)


def test_a_lead_handled_by_a_person_days_later_follows_after_the_refresh(history, monkeypatch, admin_user):
    lead = Lead.objects.get(pk=history["leads"]["manual"].pk)
    handling.lead_mark_handled(lead=lead, user=admin_user, outcome="called back")
    rollups.rollups_refresh()

    assert stats.totals(long_period(MOSCOW))["manual"] == 0
    assert same_as_leads(monkeypatch, long_period(MOSCOW)) and same_as_leads(monkeypatch, long_period(UTC))


def test_an_order_edited_in_the_admin_follows_after_the_refresh(history, admin_client):
    lead = history["leads"]["first"]
    data = {field: value for field, value in {
        "site": lead.site_id, "partner": lead.partner_id, "ref": lead.ref, "name": lead.name,
        "phone_raw": lead.phone_raw, "email": "", "comment": "", "order_amount": "120.00", "currency": "RUB",
        "utm_source": "", "utm_medium": "", "utm_campaign": "", "utm_term": "", "utm_content": "", "extra": "{}",
        "call_attempts-TOTAL_FORMS": "0", "call_attempts-INITIAL_FORMS": "0",
        "notifications-TOTAL_FORMS": "0", "notifications-INITIAL_FORMS": "0",
        "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0",
        "consent_proof-TOTAL_FORMS": "0", "consent_proof-INITIAL_FORMS": "0"}.items()}
    response = admin_client.post(f"/admin/leads/lead/{lead.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    rollups.rollups_refresh()

    assert stats.totals(long_period(MOSCOW))["order_sums"]["RUB"] == {"sum": Decimal("127.00"), "orders": 2}
    assert lead.events.filter(message__startswith="edited: ").exists()


def test_leads_arriving_today_are_counted_from_the_lead_table(history):
    period = stats.Period(local_midnight(40, MOSCOW), local_midnight(-1, MOSCOW), MOSCOW)
    before = stats.totals(period)["leads"]
    lead_at(timezone.now(), site=history["sites"][0])  # after the last refresh

    assert stats.totals(period)["leads"] == before + 1
    assert rollups.split(period)[1] == local_midnight(0, MOSCOW)


def test_a_zone_without_rollups_is_answered_exactly_from_the_leads(history, monkeypatch):
    period = long_period(TOKYO)

    assert not RollupZone.objects.filter(zone="Asia/Tokyo").exists() and rollups.split(period)[0] is None
    speed = stats.speed_to_lead(period)
    assert "approximate" not in speed and speed == from_leads(monkeypatch, stats.speed_to_lead, period)
    assert stats.totals(period)["leads"] == 5


def test_speed_to_lead_over_a_long_range_is_approximate_and_the_page_says_so(history, client, admin_user):
    client.force_login(admin_user)
    start = local_midnight(40, MOSCOW).date()
    end = local_midnight(1, MOSCOW).date()
    query = {"range": "custom", "start": start, "end": end, "tz": "Europe/Moscow"}

    speed = stats.speed_to_lead(long_period(MOSCOW))
    long_page = client.get("/dashboard/", query)
    short_page = client.get("/dashboard/", {"range": "7", "tz": "Europe/Moscow"})
    assert speed["approximate"] is True and speed["dialled"] == 4
    assert abs(speed["median"] - 9) <= 9 * waits.PRECISION and abs(speed["p90"] - 700) <= 700 * waits.PRECISION
    assert long_page.context["speed_approximate"] and 'id="speed-approximate"' in long_page.content.decode()
    assert 'id="speed-approximate"' not in short_page.content.decode()


def test_a_site_and_a_partner_together_get_exact_percentiles(history, monkeypatch):
    one, _two = history["sites"]
    a, _b = history["partners"]
    period = long_period(MOSCOW, site_id=one.pk, partner_id=a.pk)

    assert stats.speed_to_lead(period) == from_leads(monkeypatch, stats.speed_to_lead, period)


def test_approximate_percentiles_are_within_the_stated_precision_of_exact_ones():
    rng = random.Random(8)
    values = [rng.lognormvariate(2.5, 0.6) for _n in range(20_000)] + [rng.uniform(0, 43_200) for _n in range(5_000)]
    values += [rng.uniform(0, 0.09) for _n in range(100)]
    counts = Counter(waits.bucket_of(value) for value in values)
    ordered = sorted(values)

    for fraction in (0.1, 0.5, 0.75, 0.9, 0.99):
        exact = ordered[-(-int(fraction * 100) * len(values) // 100) - 1]
        assert abs(waits.percentile(counts, fraction) - exact) <= exact * waits.PRECISION + 0.001, fraction
    assert waits.PRECISION < 0.05


def test_on_a_generated_history_the_rollups_agree_with_the_leads(monkeypatch, settings):
    settings.TIME_ZONE = "Europe/Moscow"
    call_command("seed_demo", "--leads", "1500", "--days", "60", "--partners", "5", "--sites", "4", stdout=StringIO())
    period = stats.Period(local_midnight(59, MOSCOW), local_midnight(0, MOSCOW), MOSCOW)

    assert RollupZone.objects.filter(zone="Europe/Moscow").exists() and rollups.split(period)[1] is None
    first_site = Site.objects.get(domain="shop1.demo")
    assert same_as_leads(monkeypatch, period) and same_as_leads(monkeypatch, long_period(MOSCOW, site_id=first_site.pk))
    approximate, exact = stats.speed_to_lead(period), from_leads(monkeypatch, stats.speed_to_lead, period)
    for key in ("median", "p90"):
        assert abs(approximate[key] - exact[key]) <= exact[key] * waits.PRECISION + 0.001


def test_the_beat_task_refreshes_the_rollups_and_a_sites_new_zone_is_built_whole(history, monkeypatch, settings):
    from dashboard import tasks

    one, _two = history["sites"]
    one.time_zone = "Asia/Tokyo"
    one.save(update_fields=["time_zone"])
    rebuilt = tasks.refresh_rollups()

    # Every day since the oldest lead (11 days ago) in the new zone; Moscow was only site one's zone.
    assert rebuilt["Asia/Tokyo"] >= 11 and "Europe/Moscow" not in rebuilt
    assert not DailyCell.objects.filter(zone="Europe/Moscow").exists()
    assert rollups.split(long_period(TOKYO))[0] is not None and same_as_leads(monkeypatch, long_period(TOKYO))
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} >= {"dashboard.tasks.refresh_rollups"}
