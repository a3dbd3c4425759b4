"""Tiles and table rows open the matching leads: links into the admin's lead list whose filters the
admin really applies (the list counts what the figure counts), and only for people who may open it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User

from tests.dashboard.test_views import MOSCOW, shop  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def staff_manager(client) -> User:
    user = User.objects.create_user("staff-manager", is_staff=True)
    user.groups.add(Group.objects.get(name="managers"))
    client.force_login(user)
    return user


def admin_count(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url  # an unknown or refused lookup redirects with ?e=1
    return response.context["cl"].result_count


def test_every_tile_and_table_row_opens_the_admin_list_of_exactly_its_leads(client, groups, shop):  # noqa: F811
    from leads.models import Lead

    staff_manager(client)
    # A lead waiting for its next call: the scheduled tile and its link are not empty.
    Lead.objects.filter(pk=shop["leads"][1].pk).update(status="scheduled")
    page = client.get("/dashboard/", {"range": "7", "tz": "Europe/Moscow"}).context

    tiles = [*page["volume_tiles"], *page["status_tiles"], *page["call_tiles"]]
    linked = {tile.key: (admin_count(client, tile.url), tile) for tile in tiles if tile.url}
    assert set(linked) >= {"leads", "reach-rate", "sum-RUB", "sum-USD", "status-reached", "status-scheduled",
                           "call-human", "call-busy", "call-none"}
    for key, (count, tile) in linked.items():
        expected = {"reach-rate": page["totals"]["reached"]}.get(key)
        if key.startswith("sum-"):
            expected = page["totals"]["order_sums"][key[4:]]["orders"]
        assert count == (expected if expected is not None else int(tile.title.replace(",", ""))), key
    assert (linked["status-scheduled"][0], linked["call-voicemail"][0], linked["sum-RUB"][0]) == (1, 1, 2)
    for table in ("partner_table", "site_table"):
        rows = page[table]["rows"]
        assert rows and [admin_count(client, row["url"]) for row in rows] == [row["leads"] for row in rows]


def test_the_links_keep_the_pages_site_filter_and_period(client, groups, shop):  # noqa: F811
    staff_manager(client)
    rub, _usd = shop["sites"]
    day = shop["today"].date() - timedelta(days=1)
    page = client.get("/dashboard/", {"start": day, "end": day, "site": rub.pk, "tz": "Europe/Moscow"}).context

    leads = next(tile for tile in page["volume_tiles"] if tile.key == "leads")
    assert f"site__id__exact={rub.pk}" in leads.url and admin_count(client, leads.url) == 1  # yesterday's 23:59


def test_a_manager_who_cannot_open_the_admin_gets_no_links_and_no_admin_link(client, groups, shop):  # noqa: F811
    user = User.objects.create_user("desk-manager")  # in the group, not staff: the dashboard only
    user.groups.add(Group.objects.get(name="managers"))
    client.force_login(user)
    response = client.get("/dashboard/", {"range": "7"})

    html = response.content.decode()
    assert "/admin/" not in html and 'id="nav-admin"' not in html
    assert all(tile.url is None for tile in response.context["status_tiles"])


def test_staff_see_the_admin_link_and_everyone_a_logout_form_and_a_language_switch(client, groups):
    staff_manager(client)

    html = client.get("/dashboard/").content.decode()
    assert 'id="nav-admin"' in html
    assert '<form action="/dashboard/logout/" method="post"' in html
    assert '<form action="/i18n/setlang/" method="post"' in html and '<option value="ru">' in html


def test_logging_out_by_post_ends_the_session_and_returns_to_the_login_page(client, groups):
    staff_manager(client)

    response = client.post("/dashboard/logout/")

    assert response.status_code == 302 and response["Location"] == "/dashboard/login/"
    assert client.get("/dashboard/").status_code == 302  # logged out: sent to log in


def test_the_language_switch_shows_the_dashboard_in_russian(client, groups):
    staff_manager(client)

    response = client.post("/i18n/setlang/", {"language": "ru", "next": "/dashboard/?range=7"})

    assert response.status_code == 302 and response["Location"] == "/dashboard/?range=7"
    html = client.get("/dashboard/?range=7").content.decode()
    assert '<html lang="ru">' in html and "Доля дозвона" in html
