"""A site's kinds of numbers to call, as boxes to tick in the admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from leads.models import Site
from tests.admin_forms import site_form_data
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def test_the_kinds_of_numbers_ticked_in_the_admin_are_what_the_call_step_reads(client):
    from telephony.policy import call_settings_for, not_callable_reason

    site = SiteFactory(domain="shop.example")
    client.force_login(User.objects.create_superuser("root", password="x"))
    data = site_form_data(client, site)
    data.update({"call_number_types": ["mobile", "toll_free"]})

    response = client.post(f"/admin/leads/site/{site.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    site = Site.objects.get(pk=site.pk)
    assert site.call_number_types == "mobile,toll_free"
    cfg = call_settings_for(site)
    assert not_callable_reason("+78001234567", cfg) is None and not_callable_reason("+74951234567", cfg)
    page = client.get(f"/admin/leads/site/{site.pk}/change/").content.decode()
    boxes = {re.search(r'value="(\w+)"', tag)[1]: "checked" in tag
             for tag in re.findall(r'<input type="checkbox" name="call_number_types"[^>]*>', page)}
    assert boxes["mobile"] and boxes["toll_free"] and not boxes["fixed_line"] and len(boxes) == 8


def test_the_crm_and_telegram_settings_the_docs_promise_are_on_the_site_form_and_used(client):
    """README and docs/operations.md: per site, the Telegram chat, the Bitrix24 source, the responsible user
    and the status by call outcome are set in the admin; the CRM step and the cards read them."""
    from leads.crm_leads import lead_fields
    from notifications.models import TelegramChat
    from notifications.services import chat_for
    from tests.factories import LeadFactory

    site = SiteFactory(domain="shop.example")
    chat = TelegramChat.objects.create(chat_id="-100200", title="Sellers")
    client.force_login(User.objects.create_superuser("root", password="x"))
    data = site_form_data(client, site)
    data.update({"telegram_chat": chat.pk, "bitrix_source_id": "CALLBACK", "bitrix_assigned_by_id": "17",
                 "bitrix_status_map": '{"human": "IN_PROCESS", "failed": "JUNK"}'})

    response = client.post(f"/admin/leads/site/{site.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    lead = LeadFactory(site=Site.objects.get(pk=site.pk))
    fields = lead_fields(lead)
    assert fields["SOURCE_ID"] == "CALLBACK" and fields["ASSIGNED_BY_ID"] == 17
    assert lead.site.bitrix_status_map == {"human": "IN_PROCESS", "failed": "JUNK"}
    assert chat_for(lead) == chat


def test_a_status_map_naming_an_unknown_outcome_is_refused_and_changes_nothing(client):
    site = SiteFactory(domain="shop.example")
    client.force_login(User.objects.create_superuser("root", password="x"))
    data = site_form_data(client, site)
    data["bitrix_status_map"] = '{"answered": "IN_PROCESS"}'

    response = client.post(f"/admin/leads/site/{site.pk}/change/", data)

    assert response.status_code == 200
    assert "answered" in str(response.context["adminform"].form.errors["bitrix_status_map"])
    assert Site.objects.get(pk=site.pk).bitrix_status_map == {}
