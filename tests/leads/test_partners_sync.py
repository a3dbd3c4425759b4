"""The partner list from Bitrix24: every page, new ones added, gone ones deactivated, never deleted."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from leads.models import Lead, Partner
from leads.partners import partners_sync
from leads.bitrix import BitrixError, client_from_settings
from tests.conftest import post_json
from tests.factories import LeadFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def test_sync_reads_every_page_and_only_partner_companies(b24):
    b24.seed_companies(120)
    b24.add_company("A customer", company_type="CUSTOMER")
    counts = partners_sync(client_from_settings())

    assert counts == {"created": 120, "updated": 0, "deactivated": 0}
    assert Partner.objects.filter(is_active=True, bitrix_company_id__isnull=False).count() == 120
    starts = [r.params.get("start") for r in b24.requests if r.method == "crm.company.list"]
    assert [int(s) for s in starts] == [0, 50, 100]


def test_sync_updates_names_and_deactivates_partners_gone_from_bitrix24_keeping_their_leads(b24):
    kept = b24.add_company("Acme")
    gone = PartnerFactory(name="Old partner", bitrix_company_id=999999)
    lead = LeadFactory(partner=gone)
    PartnerFactory(name="Local partner")  # not from Bitrix24: left alone
    partners_sync(client_from_settings())
    b24_partner = Partner.objects.get(bitrix_company_id=kept)

    gone.refresh_from_db()
    assert gone.is_active is False and Lead.objects.get(pk=lead.pk).partner == gone
    assert b24_partner.name == "Acme" and b24_partner.code == "acme"
    assert Partner.objects.get(name="Local partner").is_active


def test_a_synced_partner_is_resolved_for_new_leads(b24, api, site):
    company = b24.add_company("Cashback Club")
    partners_sync(client_from_settings())
    post_json(api, {"phone": "+79120001122", "partner": "cashback-club"}, HTTP_ORIGIN="https://shop.example")

    assert Lead.objects.get().partner.bitrix_company_id == company


def test_with_invalid_credentials_the_cached_list_stays_and_the_error_is_raised(b24):
    b24.add_company("Acme")
    partners_sync(client_from_settings())
    b24.fail_next("crm.company.list", "no_auth")

    with pytest.raises(BitrixError) as error:
        partners_sync(client_from_settings())
    assert error.value.kind == "auth"
    assert Partner.objects.get().is_active


def test_the_partner_filter_is_configurable(b24, settings):
    b24.add_company("Reseller", company_type="RESELLER")
    b24.add_company("Partner", company_type="PARTNER")
    settings.BITRIX_PARTNER_FILTER = {"COMPANY_TYPE": "RESELLER"}
    partners_sync(client_from_settings())

    assert list(Partner.objects.values_list("name", flat=True)) == ["Reseller"]


def test_sync_partners_command(b24, capsys):
    b24.seed_companies(3)
    call_command("sync_partners")

    assert "created: 3" in capsys.readouterr().out


def test_sync_partners_command_says_when_bitrix24_is_not_configured(settings):
    settings.BITRIX_WEBHOOK_URL = settings.BITRIX_PORTAL_URL = ""
    with pytest.raises(CommandError, match="not configured"):
        call_command("sync_partners")
