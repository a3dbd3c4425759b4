"""An opted-out lead in Bitrix24: Bitrix24 has no standard "do not call" field on leads, so a timeline
note says it (once), and the status map's `opted_out` status is set."""

from __future__ import annotations

import pytest

from leads import crm, services
from leads.models import Lead
from tests.factories import CallAttemptFactory, LeadFactory, SiteFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("write_backs_at_once")]


def in_bitrix(**fields) -> Lead:
    lead = LeadFactory(**fields)
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    assert lead.bitrix_lead_id
    return lead


def test_a_listed_numbers_lead_gets_a_do_not_call_note_and_the_mapped_status_once(b24):
    lead = in_bitrix(site=SiteFactory(bitrix_status_map={"opted_out": "JUNK"}), phone="+79121112233")
    services.lead_opted_out(lead=lead, reason="Not called: the number is on the do-not-call list.")
    for _ in range(2):
        crm.crm_step_run(lead_id=lead.pk)
        services.lead_outcome_announce(lead=lead)

    comments = [c["COMMENT"] for c in b24.comments[lead.bitrix_lead_id]]
    assert comments == ["Leadcaller: do not call +79121112233. Not called: the number is on the do-not-call list."]
    assert b24.leads[lead.bitrix_lead_id]["STATUS_ID"] == "JUNK"


def test_a_key_press_is_written_as_the_calls_comment_then_the_note(b24):
    lead = in_bitrix(site=SiteFactory(bitrix_status_map={"opted_out": "JUNK"}))
    CallAttemptFactory(lead=lead, status="finished", outcome="opted_out",
                       digits="9", duration=6)
    services.lead_opted_out(lead=lead, reason="Pressed 9 during call 1: do not call again.")
    crm.crm_step_run(lead_id=lead.pk)

    comments = [c["COMMENT"] for c in b24.comments[lead.bitrix_lead_id]]
    assert len(comments) == 2
    assert "call 1" in comments[0] and "opted out" in comments[0] and "keys pressed: 9" in comments[0]
    assert comments[1].startswith("Leadcaller: do not call") and "Pressed 9" in comments[1]
    assert b24.leads[lead.bitrix_lead_id]["STATUS_ID"] == "JUNK"
    updates = [r for r in b24.requests if r.method == "crm.lead.update"]
    assert len(updates) == 1, "the status is set once"


def test_a_lead_opted_out_before_it_reached_bitrix24_is_added_then_noted(b24):
    lead = LeadFactory()
    services.lead_opted_out(lead=lead, reason="Not called: listed.")
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    assert lead.bitrix_lead_id and lead.crm_state == Lead.StepState.PENDING  # the note is a task of its own
    crm.crm_step_run(lead_id=lead.pk)

    lead.refresh_from_db()
    assert lead.crm_state == Lead.StepState.DONE and lead.crm_opt_out_written
    assert len(b24.comments[lead.bitrix_lead_id]) == 1
