"""The dashboard's page, chart JSON and CSV: who may see them, and that they show the filtered numbers."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from dashboard.filters import DashboardFilter
from leads.models import Lead
from tests.dashboard.test_stats import called, lead_at
from tests.factories import PartnerFactory, SiteFactory
from tests.html import addresses_loaded, loaded_from_elsewhere

pytestmark = pytest.mark.django_db
MOSCOW = ZoneInfo("Europe/Moscow")
URLS = ["/dashboard/", "/dashboard/charts/series/", "/dashboard/charts/outcomes/",
        "/dashboard/charts/partner-sums/?currency=RUB",
        "/dashboard/partners.csv", "/dashboard/sites.csv"]


def user_in(group: str | None, **fields) -> User:
    user = User.objects.create_user(f"user-{group}-{User.objects.count()}", **fields)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def manager(client, groups):
    client.force_login(user_in("managers"))
    return client


@pytest.fixture
def shop():
    """Yesterday and today in Moscow: a RUB site and a USD site, two partners."""
    now = timezone.now().astimezone(MOSCOW)
    today = datetime(now.year, now.month, now.day, tzinfo=MOSCOW)
    rub, usd = SiteFactory(name="Rub shop", time_zone="Europe/Moscow"), SiteFactory(name="Usd shop", currency="USD")
    acme, beta = PartnerFactory(name="Acme"), PartnerFactory(name="Beta")
    leads = [
        lead_at(today + timedelta(minutes=1), site=rub, partner=acme, status="reached",
                order_amount=Decimal("1000.00"), currency="RUB"),
        lead_at(today + timedelta(minutes=2), site=usd, partner=acme, status="manual",
                order_amount=Decimal("20.00"), currency="USD"),
        lead_at(today - timedelta(minutes=1), site=rub, partner=beta, status="reached",  # yesterday, 23:59
                order_amount=Decimal("7.00"), currency="RUB"),
    ]
    called(leads[0], "human", 3)
    called(leads[1], "voicemail", 5)
    called(leads[2], "human", 9)
    return {"today": today, "sites": (rub, usd), "partners": (acme, beta), "leads": leads}


@pytest.mark.parametrize("url", URLS)
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)

    assert response.status_code == 302 and response["Location"].startswith("/dashboard/login/?next=/dashboard/")


@pytest.mark.parametrize("url", URLS)
def test_staff_outside_the_managers_and_administrators_groups_get_403(client, groups, url):
    client.force_login(user_in(None, is_staff=True))

    assert client.get(url).status_code == 403


@pytest.mark.parametrize("group, staff", [("managers", False), ("managers", True), ("administrators", True)])
def test_managers_without_admin_rights_and_administrators_see_the_dashboard(client, groups, group, staff):
    client.force_login(user_in(group, is_staff=staff))

    assert all(client.get(url).status_code == 200 for url in URLS)


def test_the_page_is_sent_with_a_strict_content_security_policy_and_no_inline_script(manager):
    response = manager.get("/dashboard/")

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "default-src 'self'" in policy
    html = response.content.decode()
    assert "<script>" not in html and "<script src=" in html
    # Everything the page loads is ours, no CDN (looked for in addresses: a random CSRF token may spell "cdn").
    assert addresses_loaded(html) and loaded_from_elsewhere(html) == []
    assert "/static/vendor/chartjs/chart.umd.min.js" in html and "/static/js/dashboard.js" in html


def test_the_login_page_has_the_same_policy_and_its_form_works_under_it(client):
    response = client.get("/dashboard/login/")

    assert response.status_code == 200 and "form-action 'self'" in response["Content-Security-Policy"]
    assert "<script" not in response.content.decode() and 'name="password"' in response.content.decode()


def test_vendored_chartjs_is_served_from_our_static_files(client):
    response = client.get("/static/vendor/chartjs/chart.umd.min.js")

    assert response.status_code == 200
    assert b"Chart.js v4" in b"".join(response.streaming_content)


def test_today_counts_only_leads_since_midnight_in_the_sites_zone(manager, shop):
    rub, _usd = shop["sites"]
    response = manager.get("/dashboard/", {"range": "today", "site": rub.pk})

    totals = response.context["totals"]
    assert (totals["leads"], totals["reached"]) == (1, 1)
    assert totals["order_sums"] == {"RUB": {"sum": Decimal("1000.00"), "orders": 1}}
    assert response.context["period"].tz.key == "Europe/Moscow"


def test_the_users_time_zone_moves_the_day_edge(manager, shop):
    # The Moscow date named outright: in Moscow's last hour "today" in Samara is already tomorrow.
    day = {"range": "custom", "start": shop["today"].date(), "end": shop["today"].date()}
    in_moscow = manager.get("/dashboard/", {**day, "tz": "Europe/Moscow"}).context["totals"]
    in_samara = manager.get("/dashboard/", {**day, "tz": "Europe/Samara"}).context["totals"]

    assert in_moscow["leads"] == 2
    assert in_samara["leads"] == 3  # Samara is an hour ahead: yesterday's 23:59 is today's 00:59 there


def test_presets_are_ranges_of_whole_days_ending_today():
    now = datetime(2026, 3, 10, 12, 0, tzinfo=MOSCOW)
    periods = {preset: DashboardFilter({"range": preset, "tz": "Europe/Moscow"}).period(now=now)
               for preset in ("today", "7", "30")}
    default = DashboardFilter({}).period(now=now)

    assert periods["today"].start == datetime(2026, 3, 10, tzinfo=MOSCOW)
    assert periods["7"].start == datetime(2026, 3, 4, tzinfo=MOSCOW)
    assert periods["30"].start == datetime(2026, 2, 9, tzinfo=MOSCOW)
    assert {period.end for period in periods.values()} == {datetime(2026, 3, 11, tzinfo=MOSCOW)}
    assert default.end - default.start == timedelta(days=7)


def test_a_custom_range_includes_its_last_day_and_must_be_in_order():
    form = DashboardFilter({"range": "custom", "start": "2026-03-29", "end": "2026-03-30", "tz": "Europe/London"})
    backwards = DashboardFilter({"range": "custom", "start": "2026-03-30", "end": "2026-03-29"})

    period = form.period()
    assert (period.start.isoformat(), period.end.isoformat()) == ("2026-03-29T00:00:00+00:00",
                                                                 "2026-03-31T00:00:00+01:00")
    assert not backwards.is_valid() and not DashboardFilter({"range": "custom"}).is_valid()


def test_charts_answer_400_for_a_filter_that_is_not_valid(manager):
    response = manager.get("/dashboard/charts/series/", {"range": "custom", "start": "2026-01-02", "end": "2026-01-01"})

    assert response.status_code == 400


def test_the_series_chart_has_every_day_with_zeros_and_both_datasets(manager, shop):
    response = manager.get("/dashboard/charts/series/", {"range": "7", "tz": "Europe/Moscow"})

    data = response.json()
    assert len(data["labels"]) == 7
    leads, reached = (dataset["data"] for dataset in data["datasets"])
    assert (leads[-2:], reached[-2:], sum(leads[:-2])) == ([1, 2], [1, 1], 0)
    assert [dataset["label"] for dataset in data["datasets"]] == ["Leads", "Reached"]


@pytest.mark.parametrize("seconds, text", [(None, "—"), (4.25, "4.2 s"), (754, "13 min"), (20211, "5.6 h")])
def test_waits_are_shown_in_seconds_minutes_or_hours(seconds, text):
    from dashboard.numbers import duration_text

    assert duration_text(seconds) == text


def test_a_one_day_series_is_per_hour_in_the_zone_up_to_the_current_hour(manager, shop):
    data = manager.get("/dashboard/charts/series/", {"range": "today", "tz": "Europe/Moscow"}).json()
    hour = timezone.localtime(timezone.now(), MOSCOW).hour

    assert data["labels"][:2] == ["00:00", "01:00"][:hour + 1] and data["labels"][-1] in (f"{hour:02d}:00",
                                                                                            f"{hour + 1:02d}:00")
    assert data["datasets"][0]["data"][0] == 2 and sum(data["datasets"][0]["data"]) == 2


def test_hours_and_days_still_to_come_are_not_plotted():
    from dashboard.charts import buckets
    from dashboard.stats import Period

    day = datetime(2026, 12, 4, tzinfo=MOSCOW)
    at_half_past_nine = day + timedelta(hours=9, minutes=30)
    hours = buckets(Period(day, day + timedelta(days=1), MOSCOW), now=at_half_past_nine)
    days = buckets(Period(day - timedelta(days=6), day + timedelta(days=3), MOSCOW), now=at_half_past_nine)

    assert [label for _key, label in hours] == [f"{h:02d}:00" for h in range(10)]
    assert [key for key, _label in days][-1] == day.date() and len(days) == 7


@pytest.mark.django_db
def test_a_day_the_clocks_change_is_plotted_per_hour_with_each_lead_once():
    """New York's clocks go back at 02:00 on 2026-11-01 (a day of 25 hours: 01:00-02:00 is lived twice)
    and forward at 02:00 on 2026-03-08 (23 hours, no 02:00)."""
    from dashboard.charts import SeriesChart, buckets
    from dashboard.filters import midnight
    from dashboard.stats import Period

    zone = ZoneInfo("America/New_York")
    back = Period(midnight(datetime(2026, 11, 1).date(), zone), midnight(datetime(2026, 11, 2).date(), zone), zone)
    forward = Period(midnight(datetime(2026, 3, 8).date(), zone), midnight(datetime(2026, 3, 9).date(), zone), zone)
    for when in ("05:30", "06:30"):  # 01:30 summer time, then 01:30 winter time
        lead_at(datetime.fromisoformat(f"2026-11-01T{when}:00+00:00"))

    rows = SeriesChart().rows_for(back)

    assert back.hourly and forward.hourly
    assert [label for label, _row in rows] == [f"{h:02d}:00" for h in range(24)]
    assert rows[1][1]["leads"] == 2 and sum(row.get("leads", 0) for _label, row in rows) == 2
    later = datetime(2026, 12, 1, tzinfo=zone)
    assert [label for _key, label in buckets(forward, now=later)] == [f"{h:02d}:00" for h in range(24) if h != 2]


def test_the_outcome_chart_counts_leads_by_their_latest_call(manager, shop):
    data = manager.get("/dashboard/charts/outcomes/", {"range": "7", "tz": "Europe/Moscow"}).json()

    assert dict(zip(data["labels"], data["datasets"][0]["data"])) == {"answered by a person": 2, "voicemail": 1}


def test_opted_out_leads_show_among_the_totals_and_in_the_outcome_chart(manager, shop):
    from leads.services import lead_opted_out

    lead = shop["leads"][1]
    called(lead, "opted_out", 60, number=2)
    lead_opted_out(lead=lead, reason="Pressed 9 during call 2: do not call again.")
    page = manager.get("/dashboard/", {"range": "7", "tz": "Europe/Moscow"})
    data = manager.get("/dashboard/charts/outcomes/", {"range": "7", "tz": "Europe/Moscow"}).json()

    assert page.context["totals"]["opted_out_leads"] == 1
    assert '<b data-total="status-opted_out" title="1">1</b>' in page.content.decode()
    assert dict(zip(data["labels"], data["datasets"][0]["data"])) == {
        "answered by a person": 2, "opted out (pressed the opt-out key)": 1}


def test_partner_sums_are_one_chart_per_currency_never_added_together(manager, shop):
    query = {"range": "7", "tz": "Europe/Moscow"}
    rub = manager.get("/dashboard/charts/partner-sums/", {**query, "currency": "RUB"}).json()
    usd = manager.get("/dashboard/charts/partner-sums/", {**query, "currency": "usd"}).json()
    page = manager.get("/dashboard/", query).content.decode()

    assert (rub["labels"], [d["data"] for d in rub["datasets"]]) == (["Acme", "Beta"], [[1000.0, 7.0]])
    assert (usd["labels"], [d["data"] for d in usd["datasets"]]) == (["Acme"], [[20.0]])
    assert 'id="chart-partner-sums-RUB" data-chart="bar" data-axis="y"' in page
    assert 'id="chart-partner-sums-USD" data-chart="bar" data-axis="y"' in page
    assert manager.get("/dashboard/charts/partner-sums/", query).status_code == 400  # which currency?


def test_the_order_sum_chart_shows_the_top_ten_partners_by_sum(manager):
    site = SiteFactory()
    now = timezone.now()
    for n in range(12):
        lead_at(now - timedelta(minutes=n), site=site, partner=PartnerFactory(name=f"P{n:02d}"),
                order_amount=Decimal(100 + n), currency="RUB")

    data = manager.get("/dashboard/charts/partner-sums/", {"range": "7", "currency": "RUB"}).json()

    assert data["labels"] == [f"P{n:02d}" for n in range(11, 1, -1)]
    assert data["datasets"][0]["data"][0] == 111.0


def _csv_rows(response, delimiter=",") -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")  # the byte order mark: Excel then reads UTF-8
    return list(csv.reader(io.StringIO(text[1:]), delimiter=delimiter))


def test_partner_csv_has_the_tables_numbers_with_a_column_pair_per_currency(manager, shop):
    acme, _beta = shop["partners"]
    response = manager.get("/dashboard/partners.csv", {"range": "7", "tz": "Europe/Moscow"})

    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    today = shop["today"].date()
    assert f'filename="leads-by-partner-{today - timedelta(days=6)}-{today}.csv"' in response["Content-Disposition"]
    rows = _csv_rows(response)
    assert rows[0] == ["Partner", "Leads", "Reached", "Reach rate, %", "Orders RUB", "Order sum RUB",
                       "Orders USD", "Order sum USD"]
    assert rows[1:] == [["Acme", "2", "1", "50.0", "1", "1000.00", "1", "20.00"],
                        ["Beta", "1", "1", "100.0", "1", "7.00", "0", "0"]]


def test_in_russian_the_csv_is_for_russian_excel_semicolons_and_decimal_commas(manager, shop):
    response = manager.get("/dashboard/partners.csv", {"range": "7", "tz": "Europe/Moscow"},
                           HTTP_ACCEPT_LANGUAGE="ru")

    rows = _csv_rows(response, delimiter=";")
    assert rows[0][:4] == ["Партнёр", "Лиды", "Дозвон", "Доля дозвона, %"]
    assert rows[1] == ["Acme", "2", "1", "50,0", "1", "1000,00", "1", "20,00"]


def test_a_partner_name_that_reads_as_a_formula_is_written_as_text_in_the_csv(manager, shop):
    acme, _beta = shop["partners"]
    acme.name = '=HYPERLINK("http://evil.example","x")'
    acme.save()
    response = manager.get("/dashboard/partners.csv", {"range": "7", "tz": "Europe/Moscow"})

    names = [row[0] for row in _csv_rows(response)][1:]
    assert names == ['\'=HYPERLINK("http://evil.example","x")', "Beta"]


def test_site_csv_follows_the_partner_filter(manager, shop):
    acme, _beta = shop["partners"]
    response = manager.get("/dashboard/sites.csv", {"range": "7", "partner": acme.pk, "tz": "Europe/Moscow"})

    rows = _csv_rows(response)
    assert [row[:3] for row in rows[1:]] == [["Rub shop", "1", "1"], ["Usd shop", "1", "0"]]


def test_the_page_shows_totals_speed_and_sortable_tables(manager, shop):
    response = manager.get("/dashboard/", {"range": "7", "tz": "Europe/Moscow"})

    html = response.content.decode()
    assert response.context["speed"]["median"] == "5.0 s" and response.context["speed"]["p90"] == "9.0 s"
    assert 'class="sortable" id="table-partners"' in html and "Acme" in html
    assert 'data-chart="doughnut"' in html and "/dashboard/charts/outcomes/?range=7" in html


def test_a_manager_without_admin_rights_logs_in_on_the_dashboards_own_page(client, groups):
    user = user_in("managers")
    user.set_password("correct-horse-battery")
    user.save()

    response = client.post("/dashboard/login/?next=/dashboard/",
                           {"username": user.username, "password": "correct-horse-battery", "next": "/dashboard/"})

    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_the_admin_index_links_managers_to_the_dashboard(client, groups):
    client.force_login(user_in("managers", is_staff=True))

    assert 'href="/dashboard/"' in client.get("/admin/").content.decode()


def test_the_admin_index_offers_no_dashboard_link_to_staff_the_dashboard_would_refuse(client, groups):
    from django.contrib.auth.models import Permission

    user = user_in(None, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_lead"))
    client.force_login(user)

    assert 'href="/dashboard/"' not in client.get("/admin/").content.decode()
    assert client.get("/dashboard/").status_code == 403


def test_a_lead_reached_later_counts_as_reached_in_its_arrival_range(manager, shop):
    Lead.objects.filter(pk=shop["leads"][1].pk).update(status="reached")

    totals = manager.get("/dashboard/", {"range": "7", "tz": "Europe/Moscow"}).context["totals"]
    assert totals["reached"] == 3 and totals["manual"] == 0


def test_a_burst_of_numbers_from_one_address_shows_among_the_posts_refused_by_reason(manager, api, settings):
    import re

    settings.THROTTLE_PER_IP = "2/min"
    SiteFactory(domain="shop.example")
    for n in range(6):
        api.post("/api/v1/leads/", {"phone": f"+791200011{n:02d}"}, format="json", HTTP_ORIGIN="https://shop.example")

    page = manager.get("/dashboard/", {"range": "today"}).content.decode()

    figures = dict(re.findall(r'<b data-refused="(\w+)">(\d+)</b>', page))
    assert figures["throttled_ip"] == "4"
    assert figures["too_many_ops"] == figures["unknown_site"] == "0"
    assert "too many from one address" in page


def _period_label(html: str) -> tuple[str, str]:
    import re

    return re.search(r'<p class="period" data-first="([\d-]+)" data-last="([\d-]+)"', html).groups()


def test_the_period_label_names_the_days_of_the_chosen_zone_not_the_servers(manager, settings):
    from django.utils import timezone as tz

    settings.TIME_ZONE = "UTC"  # a Berlin day starts at 23:00 UTC the day before; a Tokyo day at 15:00
    berlin_today = tz.localtime(tz.now(), ZoneInfo("Europe/Berlin")).date()
    tokyo_today = tz.localtime(tz.now(), ZoneInfo("Asia/Tokyo")).date()

    berlin = manager.get("/dashboard/", {"range": "30", "tz": "Europe/Berlin"})
    tokyo = manager.get("/dashboard/", {"range": "today", "tz": "Asia/Tokyo"})

    assert f"{tokyo_today:%m/%d/%Y} – {tokyo_today:%m/%d/%Y}, days in Asia/Tokyo" in tokyo.content.decode()
    assert _period_label(tokyo.content.decode()) == (str(tokyo_today), str(tokyo_today))
    assert _period_label(berlin.content.decode()) == (str(berlin_today - timedelta(days=29)), str(berlin_today))


def test_dates_typed_in_apply_whatever_the_preset_says(manager, shop):
    day = shop["today"].date() - timedelta(days=1)
    form = DashboardFilter({"range": "7", "start": str(day), "end": str(day), "tz": "Europe/Moscow"})

    assert form.is_valid() and form.period().start == datetime(day.year, day.month, day.day, tzinfo=MOSCOW)
    response = manager.get("/dashboard/", {"range": "7", "start": day, "end": day, "tz": "Europe/Moscow"})
    assert response.context["totals"]["leads"] == 1  # yesterday's 23:59 only
    assert _period_label(response.content.decode()) == (str(day), str(day))
    assert '<option value="custom" selected>' in response.content.decode()
    chart = manager.get("/dashboard/charts/series/", {"range": "7", "start": day, "end": day, "tz": "Europe/Moscow"})
    assert len(chart.json()["labels"]) == 24  # one day: per hour


def test_a_preset_with_one_date_typed_in_asks_for_the_other(manager):
    response = manager.get("/dashboard/", {"range": "30", "start": "2026-11-01"})

    assert response.status_code == 400 and "Give both dates of a custom range." in response.content.decode()


def test_the_order_sum_chart_checks_the_filter_before_asking_for_its_currency(manager):
    bad_dates = {"range": "custom", "start": "2026-01-02", "end": "2026-01-01"}

    refused = manager.get("/dashboard/charts/partner-sums/", bad_dates)
    no_currency = manager.get("/dashboard/charts/partner-sums/", {"range": "7"})

    assert refused.status_code == no_currency.status_code == 400
    assert b"The filter is not valid." in refused.content and b"?currency=RUB" in no_currency.content
