"""A call a seller took, as the shop sees it: the Telegram card and the Bitrix24 lead."""

from __future__ import annotations

import pytest
from celery import current_app

from leads import crm, services
from leads.models import Lead
from notifications import messages
from telephony.models import CallAttempt
from tests.factories import CallAttemptFactory, LeadFactory, SiteFactory
from tests.sellers.factories import SellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("write_backs_at_once")]
RECORDING = "https://storage.example.com/records/1.mp3"


def connected_call(lead, seller, **fields):
    return CallAttemptFactory(lead=lead, status=CallAttempt.Status.FINISHED,
                              outcome="connected", seller=seller, talk_time=65, duration=80, **fields)


def test_the_card_names_the_seller_and_links_the_recording(settings):
    settings.PUBLIC_BASE_URL = "https://leads.example.com"
    lead = LeadFactory(site=SiteFactory(name="Shop"), status=Lead.Status.REACHED)
    connected_call(lead, SellerFactory(name="Anna"), record_url=RECORDING)
    text, buttons = messages.card(lead)
    assert "Talked to Anna for 65 s" in text
    assert buttons[-1].url == RECORDING


def test_a_card_without_recording_has_no_listen_button(settings):
    settings.PUBLIC_BASE_URL = "https://leads.example.com"
    lead = LeadFactory(status=Lead.Status.REACHED)
    connected_call(lead, SellerFactory(name="Anna"))
    _text, buttons = messages.card(lead)
    assert all(b.url != RECORDING for b in buttons) and len(buttons) == 1


def test_bitrix24_gets_the_outcome_the_recording_and_the_seller_as_responsible(b24):
    site = SiteFactory(bitrix_status_map={"connected": "IN_PROCESS"})
    lead = LeadFactory(site=site)
    crm.crm_step_run(lead_id=lead.pk)
    connected_call(lead, SellerFactory(name="Anna", bitrix_user_id=12), record_url=RECORDING)
    services.lead_outcome_announce(lead=lead)
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    comment = b24.comments[lead.bitrix_lead_id][0]["COMMENT"]
    assert "talked to a seller" in comment and "Anna" in comment and RECORDING in comment
    record = b24.leads[lead.bitrix_lead_id]
    assert (str(record["ASSIGNED_BY_ID"]), record["STATUS_ID"]) == ("12", "IN_PROCESS")


def test_the_claimers_batch_write_back_makes_the_seller_responsible_too(b24, monkeypatch):
    """The CRM claimer writes back leads already in Bitrix24 in one `batch`: the same requests as above."""
    monkeypatch.setattr(current_app, "send_task", lambda *args, **kwargs: None)  # no next claimer
    site = SiteFactory(bitrix_status_map={"connected": "IN_PROCESS"})
    lead = LeadFactory(site=site)
    crm.crm_step_run(lead_id=lead.pk)
    connected_call(lead, SellerFactory(name="Anna", bitrix_user_id=12), record_url=RECORDING)
    services.lead_outcome_announce(lead=lead)

    assert crm.crm_write_backs_run() == 1
    lead.refresh_from_db()
    assert [r.method for r in b24.requests][-1] == "batch" and lead.crm_synced_attempt == 1
    record = b24.leads[lead.bitrix_lead_id]
    assert (str(record["ASSIGNED_BY_ID"]), record["STATUS_ID"]) == ("12", "IN_PROCESS")


def test_a_seller_without_a_bitrix_user_leaves_the_responsible_alone(b24):
    lead = LeadFactory()
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    before = b24.leads[lead.bitrix_lead_id]["ASSIGNED_BY_ID"]
    connected_call(lead, SellerFactory(name="Anna"))
    services.lead_outcome_announce(lead=lead)
    crm.crm_step_run(lead_id=lead.pk)
    assert b24.leads[lead.bitrix_lead_id]["ASSIGNED_BY_ID"] == before
