"""`/api/v1/dnc/`: staff with the permission check, add and remove numbers; nobody else; bad input is a
clear 400 that changes nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from dnc.models import Entry
from dnc.services import dnc_add
from tests.factories import PartnerFactory, SiteFactory

pytestmark = pytest.mark.django_db


def post(api, action: str, body, **headers):
    return api.post(f"/api/v1/dnc/{action}/", body, format="json", **headers)


def snapshot() -> list[dict]:
    return list(Entry.objects.order_by("pk").values())


def test_an_administrator_adds_checks_and_removes_a_number_with_a_token(api, administrator, token_of):
    auth = token_of(administrator)
    added = post(api, "add", {"phone": "8 (912) 111-22-33", "reason": "asked by phone"}, **auth)

    assert added.status_code == 201
    assert added.json()["created"] is True and added.json()["entry"]["phone"] == "+79121112233"
    entry = Entry.objects.get()
    assert (entry.source, entry.scope, entry.added_by, entry.added_by_name, entry.reason) == (
        "api", "all", administrator, "administrator", "asked by phone")

    checked = post(api, "check", {"phone": "+79121112233"}, **auth).json()
    assert checked["listed"] is True and [e["id"] for e in checked["entries"]] == [entry.pk]

    removed = post(api, "remove", {"phone": "+7 912 111 22 33", "reason": "listed by mistake"}, **auth)
    assert removed.json() == {"removed": 1}
    entry.refresh_from_db()
    assert (entry.removed_by, entry.remove_reason) == (administrator, "listed by mistake") and entry.removed_at
    assert post(api, "check", {"phone": "+79121112233"}, **auth).json()["listed"] is False


def test_adding_a_listed_number_again_answers_200_with_the_first_entry(api, administrator, token_of):
    auth = token_of(administrator)
    first = post(api, "add", {"phone": "+79121112233", "reason": "first"}, **auth).json()["entry"]
    again = post(api, "add", {"phone": "+79121112233", "reason": "second"}, **auth)

    assert again.status_code == 200 and again.json() == {"created": False, "entry": first}
    assert Entry.objects.count() == 1


def test_a_site_or_partner_entry_applies_to_its_leads_only(api, administrator, token_of):
    auth = token_of(administrator)
    site, other, partner = SiteFactory(domain="shop.example"), SiteFactory(), PartnerFactory(code="cpa")
    post(api, "add", {"phone": "+79121112233", "site": "https://www.Shop.example/"}, **auth)
    post(api, "add", {"phone": "+79121112244", "partner": "cpa"}, **auth)

    def listed(phone, **target):
        return post(api, "check", {"phone": phone, **target}, **auth).json()["listed"]

    assert Entry.objects.get(phone="+79121112233").site == site
    assert (listed("+79121112233", site="shop.example"), listed("+79121112233", site=other.domain)) == (True, False)
    assert (listed("+79121112244", partner="cpa"), listed("+79121112244", site="shop.example")) == (True, False)
    assert listed("+79121112233") and listed("+79121112244"), "without a target: listed anywhere"
    assert partner.pk == Entry.objects.get(phone="+79121112244").partner_id


def test_removing_one_scope_leaves_the_others(api, administrator, token_of):
    auth = token_of(administrator)
    site = SiteFactory(domain="shop.example")
    dnc_add(phone="+79121112233", source="admin")
    dnc_add(phone="+79121112233", source="admin", site=site)

    assert post(api, "remove", {"phone": "+79121112233", "site": "shop.example"}, **auth).json() == {"removed": 1}
    assert post(api, "remove", {"phone": "+79121112233", "site": "shop.example"}, **auth).json() == {"removed": 0}
    assert Entry.objects.filter(removed_at=None).get().scope == "all"


def test_a_manager_may_check_and_add_but_not_remove(api, manager, token_of):
    auth = token_of(manager)

    assert post(api, "add", {"phone": "+79121112233"}, **auth).status_code == 201
    assert post(api, "check", {"phone": "+79121112233"}, **auth).status_code == 200
    assert post(api, "remove", {"phone": "+79121112233"}, **auth).status_code == 403
    assert Entry.objects.get().removed_at is None


def test_without_credentials_or_with_a_wrong_token_it_is_401(api):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Token nope"}, {"HTTP_AUTHORIZATION": "Basic eDp5"}):
        response = post(api, "add", {"phone": "+79121112233"}, **headers)
        assert response.status_code == 401, headers
    assert not Entry.objects.exists()


def test_users_who_are_not_staff_or_lack_the_permission_get_403(api, token_of, groups):
    from django.contrib.auth.models import Group

    outsider = User.objects.create_user("outsider", password="x", is_staff=True)
    not_staff = User.objects.create_user("customer", password="x")
    not_staff.groups.add(Group.objects.get(name="administrators"))
    for user in (outsider, not_staff):
        assert post(api, "add", {"phone": "+79121112233"}, **token_of(user)).status_code == 403
    assert not Entry.objects.exists()


def test_the_admins_session_works_with_its_csrf_token(administrator):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(administrator)

    assert post(api, "add", {"phone": "+79121112233"}).status_code == 403  # a session without its CSRF token
    api.get("/admin/")
    csrf = api.cookies["csrftoken"].value
    assert post(api, "add", {"phone": "+79121112233"}, HTTP_X_CSRFTOKEN=csrf).status_code == 201


@pytest.mark.parametrize("action", ["add", "remove", "check"])
@pytest.mark.parametrize("body, field", [
    ({}, "phone"),
    ({"phone": ""}, "phone"),
    ({"phone": "call me maybe"}, "phone"),
    ({"phone": "12"}, "phone"),
    ({"phone": "9" * 65}, "phone"),
    ({"phone": ["+79121112233"]}, "phone"),
    ({"phone": True}, "phone"),
    ({"phone": "+79121112233\x00"}, "phone"),
    ({"phone": "+79121112233", "site": "nowhere.example"}, "site"),
    ({"phone": "+79121112233", "partner": "nobody"}, "partner"),
    ({"phone": "+79121112233", "site": "shop.example", "partner": "cpa"}, "non_field_errors"),
    ({"phone": "+79121112233", "reason": "x" * 301}, "reason"),
    (["+79121112233"], "non_field_errors"),
])
def test_bad_input_is_a_clear_400_and_changes_nothing(api, administrator, token_of, action, body, field):
    SiteFactory(domain="shop.example")
    PartnerFactory(code="cpa")
    dnc_add(phone="+79121112233", source="admin", reason="kept")
    before = snapshot()
    response = post(api, action, body, **token_of(administrator))

    if action == "check" and field == "reason":
        assert response.status_code == 200  # a check takes no reason: the field is ignored
        return
    assert response.status_code == 400 and field in response.json()
    assert snapshot() == before


def test_a_body_that_is_not_json_is_400_or_415(api, administrator, token_of):
    auth = token_of(administrator)

    assert api.generic("POST", "/api/v1/dnc/add/", "{oops", content_type="application/json", **auth).status_code == 400
    assert api.generic("POST", "/api/v1/dnc/add/", "phone=1", content_type="application/x-www-form-urlencoded",
                       **auth).status_code == 415
    assert not Entry.objects.exists()


def test_the_api_is_described_in_the_openapi_schema(api):
    schema = api.get("/api/schema/?format=json").json()

    for action in ("add", "remove", "check"):
        operation = schema["paths"][f"/api/v1/dnc/{action}/"]["post"]
        assert operation["operationId"] == f"dnc_{action}"
        assert {"400", "401", "403"} <= set(operation["responses"])
        assert {"tokenAuth", "cookieAuth"} <= {name for item in operation["security"] for name in item}
