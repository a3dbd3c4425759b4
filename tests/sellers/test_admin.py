"""Sellers in the admin: listed, added with validation, offers read only; the site form has the call mode."""

from __future__ import annotations

import pytest

from sellers.models import Seller, SellerOffer
from tests.factories import SiteFactory
from tests.sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db


def form(site, **overrides):
    return {"name": "Anna", "phone": "+79161234567", "telegram_user": "", "bitrix_user_id": "", "sites": [site.pk],
            "is_active": "on", "time_zone": "Europe/Moscow", "working_hours": "fri 22:00-06:00", **overrides}


def test_a_seller_is_added_with_sites_and_hours_across_midnight(admin_client):
    site = SiteFactory()
    response = admin_client.post("/admin/sellers/seller/add/", form(site))
    assert response.status_code == 302
    seller = Seller.objects.get()
    assert list(seller.sites.all()) == [site] and seller.working_hours == "fri 22:00-06:00"


@pytest.mark.parametrize(("field", "value"), [("phone", "8 916 123-45-67"), ("working_hours", "fri 25:00-06:00"),
                                              ("time_zone", "Mars/Base")])
def test_bad_input_is_shown_on_the_form_and_nothing_is_saved(admin_client, field, value):
    response = admin_client.post("/admin/sellers/seller/add/", form(SiteFactory(), **{field: value}))
    assert response.status_code == 200 and field in response.context["adminform"].form.errors
    assert not Seller.objects.exists()


def test_the_lists_and_the_site_form_render(admin_client):
    SellerFactory(name="Boris")
    site = SiteFactory()
    assert b"Boris" in admin_client.get("/admin/sellers/seller/").content
    assert admin_client.get("/admin/sellers/selleroffer/").status_code == 200
    page = admin_client.get(f"/admin/leads/site/{site.pk}/change/").content.decode()
    assert 'name="call_mode"' in page and 'name="ring_strategy"' in page and 'name="record_calls"' in page
    assert admin_client.get("/admin/sellers/selleroffer/add/").status_code == 403
    assert not SellerOffer.objects.exists()


def test_managers_may_put_a_seller_on_a_break_but_only_administrators_add_one(client, groups):
    from django.contrib.auth.models import Group, User

    manager = User.objects.create_user("m", is_staff=True)
    manager.groups.add(Group.objects.get(name="managers"))
    admin = User.objects.create_user("a", is_staff=True)
    admin.groups.add(Group.objects.get(name="administrators"))
    seller = SellerFactory()
    assert manager.has_perm("sellers.change_seller") and not manager.has_perm("sellers.add_seller")
    client.force_login(manager)
    assert client.get(f"/admin/sellers/seller/{seller.pk}/change/").status_code == 200
    assert client.get("/admin/sellers/seller/add/").status_code == 403
    assert User.objects.get(pk=admin.pk).has_perm("sellers.add_seller")
