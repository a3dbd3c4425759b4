"""The partner who brought a lead, in Bitrix24: named and linked, never made the lead's client."""

from __future__ import annotations

import logging

import pytest

from demo.fakes.bitrix24 import FakeBitrix24
from leads import crm
from leads.models import Lead, LeadEvent
from tests.factories import LeadFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal(settings):
    """A portal whose admin made two lead fields for partners: a String and an Integer one."""
    with FakeBitrix24(lead_custom_fields={"UF_CRM_PARTNER": ("Partner", "string"),
                                         "UF_CRM_PARTNER_ID": ("Partner company", "integer"),
                                         "UF_CRM_PARTNERS": ("Partners", "crm")}) as fake:
        settings.BITRIX_WEBHOOK_URL, settings.BITRIX_PORTAL_URL = fake.webhook_url, ""
        settings.BITRIX_BURST, settings.BITRIX_REQUESTS_PER_SECOND = 1000, 1000.0
        yield fake


def added(portal: FakeBitrix24, lead: Lead) -> dict:
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    assert lead.crm_state == Lead.StepState.DONE
    return portal.leads[lead.bitrix_lead_id]


def test_a_partners_lead_names_the_partner_but_is_not_a_repeat_lead_of_its_company(portal):
    partner = PartnerFactory(name="Acme", bitrix_company_id=2919)
    stored = added(portal, LeadFactory(partner=partner))

    assert stored["IS_RETURN_CUSTOMER"] == "N" and stored["COMPANY_ID"] in (None, "", "0")
    assert stored["CONTACT_ID"] in (None, "", "0")
    assert "Acme" in stored["SOURCE_DESCRIPTION"] and "2919" in stored["SOURCE_DESCRIPTION"]


@pytest.mark.parametrize(("field", "value"), [("UF_CRM_PARTNER", "Acme"), ("UF_CRM_PARTNER_ID", "2919")])
def test_the_configured_lead_field_holds_the_partner(portal, settings, field, value):
    settings.BITRIX_PARTNER_FIELD = field
    leads = [LeadFactory(partner=PartnerFactory(name="Acme", bitrix_company_id=2919)), LeadFactory(partner=None)]
    stored = added(portal, leads[0])  # both go out in one batch
    alone = portal.leads[Lead.objects.get(pk=leads[1].pk).bitrix_lead_id]

    assert stored[field] == value and stored["IS_RETURN_CUSTOMER"] == "N"
    assert alone[field] is None
    assert [r.method for r in portal.requests] == ["crm.lead.fields", "batch"]
    added(portal, LeadFactory(partner=PartnerFactory(name="Beta", bitrix_company_id=2920)))
    assert [r.method for r in portal.requests].count("crm.lead.fields") == 1  # asked once


@pytest.mark.parametrize(("field", "problem"), [("UF_CRM_NO_SUCH", "not a lead field"),
                                                ("UF_CRM_PARTNERS", "type crm")])
def test_a_field_the_portal_cannot_take_is_reported_and_the_lead_still_added(portal, settings, caplog, field,
                                                                              problem):
    settings.BITRIX_PARTNER_FIELD = field
    lead = LeadFactory(partner=PartnerFactory(name="Acme", bitrix_company_id=2919))
    with caplog.at_level(logging.ERROR, logger="leads.crm_leads"):
        stored = added(portal, lead)

    assert field not in stored or stored[field] is None
    assert "Acme" in stored["SOURCE_DESCRIPTION"]
    assert any(problem in record.getMessage() for record in caplog.records)
    done = lead.events.get(step="crm", kind=LeadEvent.Kind.STEP_DONE).message
    assert field in done and problem in done
