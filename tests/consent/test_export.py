"""The CSV of consent proofs in the admin: filtered by site and days, only for those allowed, and
safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User

from tests.consent.conftest import proof_for, staff
from tests.factories import LeadFactory, SiteFactory

pytestmark = pytest.mark.django_db
EXPORT = "/admin/consent/consentproof/export/"
MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.fixture
def proofs(settings):
    settings.TIME_ZONE = "Europe/Moscow"
    shop, other = SiteFactory(domain="shop.example"), SiteFactory(domain="other.example")
    at = {"may1_late": datetime(2026, 5, 1, 23, 30, tzinfo=MOSCOW), "may2": datetime(2026, 5, 2, 12, 0, tzinfo=MOSCOW),
          "may3_early": datetime(2026, 5, 3, 0, 10, tzinfo=MOSCOW)}
    return {
        "may1": proof_for(LeadFactory(site=shop, phone="+79120000001"), at=at["may1_late"]),
        "may2": proof_for(LeadFactory(site=shop, phone="+79120000002"), at=at["may2"]),
        "may3": proof_for(LeadFactory(site=shop, phone="+79120000003"), at=at["may3_early"]),
        "other": proof_for(LeadFactory(site=other, phone="+79120000004"), at=at["may2"]),
    }


def rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_one_sites_proofs_between_two_days_in_the_servers_zone(client, proofs):
    client.force_login(User.objects.create_superuser("root", password="x"))
    site = proofs["may1"].site

    response = client.get(EXPORT, {"site": site.pk, "first": "2026-05-02", "last": "2026-05-02"})

    header, *body = rows(response)
    assert header[:4] == ["Given at", "Site", "Lead", "Phone"] and header[-1] == "Text shown"
    assert [row[3] for row in body] == ["'+79120000002"]
    assert body[0][0] == "2026-05-02T12:00:00+03:00" and body[0][1] == "shop.example"
    assert 'filename="consent-shop.example-2026-05-02-2026-05-02.csv"' in response["Content-Disposition"]


def test_all_sites_and_open_ends(client, proofs):
    client.force_login(User.objects.create_superuser("root", password="x"))

    everything = rows(client.get(EXPORT, {"site": "", "first": "", "last": ""}))[1:]
    from_may2 = rows(client.get(EXPORT, {"first": "2026-05-02"}))[1:]

    assert sorted(row[3] for row in everything) == ["'+79120000001", "'+79120000002", "'+79120000003",
                                                     "'+79120000004"]
    assert sorted(row[3] for row in from_may2) == ["'+79120000002", "'+79120000003", "'+79120000004"]


@pytest.mark.parametrize("evil", ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)",
                                  "\t=1", "\r=1"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text(client, evil):
    lead = LeadFactory(site=SiteFactory(domain="shop.example"))
    proof_for(lead, text=evil, user_agent=evil, page_url=evil)
    client.force_login(User.objects.create_superuser("root", password="x"))

    [row] = rows(client.get(EXPORT, {"site": lead.site.pk}))[1:]

    assert row[5] == row[6] == row[9] == "'" + evil


def test_the_page_without_a_filter_shows_the_form(client, proofs):
    client.force_login(User.objects.create_superuser("root", password="x"))

    page = client.get(EXPORT)

    assert page.status_code == 200 and 'name="first"' in page.content.decode()


@pytest.mark.parametrize("query", [{"first": "2026-05-03", "last": "2026-05-01"}, {"last": "9999-12-31"},
                                   {"first": "0001-01-01"}, {"first": "soon"}, {"site": "999999"}])
def test_a_filter_that_is_not_valid_shows_the_form_again_with_the_error(client, proofs, query):
    client.force_login(User.objects.create_superuser("root", password="x"))

    page = client.get(EXPORT, query)

    assert page.status_code == 200 and not page["Content-Type"].startswith("text/csv")
    assert "errorlist" in page.content.decode()


def test_only_those_allowed_to_export_may(client, proofs, groups):
    client.force_login(staff("maria", "managers"))
    assert client.get(EXPORT, {"site": ""}).status_code == 403
    assert "Export as CSV" not in client.get("/admin/consent/consentproof/").content.decode()

    client.force_login(staff("olga", "administrators"))
    assert len(rows(client.get(EXPORT, {"site": ""}))) == 5
    assert "Export as CSV" in client.get("/admin/consent/consentproof/").content.decode()


def test_a_visitor_who_is_not_staff_is_sent_to_log_in(client, proofs):
    response = client.get(EXPORT, {"site": ""})

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
