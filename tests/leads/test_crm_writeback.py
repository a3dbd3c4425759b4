"""Call outcomes written back to the Bitrix24 lead: a timeline comment each, and the mapped status."""

from __future__ import annotations

import pytest

from leads import crm, services
from leads.models import Lead
from tests.factories import LeadFactory, SiteFactory
from tests.leads.conftest import finished_call, in_bitrix_with_a_finished_call

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("write_backs_at_once")]
State = Lead.StepState


def created_in_bitrix(b24, **lead_fields) -> Lead:
    lead = LeadFactory(**lead_fields)
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    assert lead.crm_state == State.DONE
    return lead


def test_a_call_outcome_reopens_the_crm_step_which_comments_and_sets_the_mapped_status(b24):
    site = SiteFactory(bitrix_status_map={"human": "IN_PROCESS"})
    lead = created_in_bitrix(b24, site=site)
    finished_call(lead, "human", duration=31, digits="1", detail="amd:HUMAN")
    services.lead_outcome_announce(lead=lead)

    lead.refresh_from_db()
    assert lead.crm_state == State.PENDING
    crm.crm_step_run(lead_id=lead.pk)

    lead.refresh_from_db()
    comments = b24.comments[lead.bitrix_lead_id]
    assert len(comments) == 1 and "answered by a person" in comments[0]["COMMENT"] and "31 s" in comments[0]["COMMENT"]
    assert b24.leads[lead.bitrix_lead_id]["STATUS_ID"] == "IN_PROCESS"
    assert (lead.crm_state, lead.crm_synced_attempt) == (State.DONE, 1)


def test_each_outcome_is_written_once_even_when_announced_twice(b24):
    lead = created_in_bitrix(b24)
    finished_call(lead, "busy")
    for _ in range(2):
        services.lead_outcome_announce(lead=lead)
        crm.crm_step_run(lead_id=lead.pk)
    finished_call(lead, "no_answer", number=2)
    services.lead_outcome_announce(lead=lead)
    crm.crm_step_run(lead_id=lead.pk)

    comments = [c["COMMENT"] for c in b24.comments[Lead.objects.get(pk=lead.pk).bitrix_lead_id]]
    assert len(comments) == 2 and "call 1" in comments[0] and "call 2" in comments[1]


def test_an_outcome_known_before_the_lead_reached_bitrix24_is_written_by_a_task_of_its_own(b24):
    lead = LeadFactory()
    finished_call(lead, "voicemail")
    services.lead_outcome_announce(lead=lead)  # the CRM step has not run yet
    crm.crm_step_run(lead_id=lead.pk)

    lead.refresh_from_db()
    assert lead.crm_state == State.PENDING and lead.bitrix_lead_id  # added; the write-back is queued
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    assert lead.crm_state == State.DONE and len(b24.comments[lead.bitrix_lead_id]) == 1


def test_an_outcome_arriving_while_the_crm_step_runs_is_not_lost(b24, monkeypatch):
    lead = LeadFactory()
    real_add = crm.crm_leads_add

    def add_then_a_call_ends(*, client, leads):
        outcomes = real_add(client=client, leads=leads)
        finished_call(lead, "human")  # the result webhook lands while the step is still running
        services.lead_outcome_announce(lead=lead)
        return outcomes

    monkeypatch.setattr(crm, "crm_leads_add", add_then_a_call_ends)
    crm.crm_step_run(lead_id=lead.pk)
    monkeypatch.setattr(crm, "crm_leads_add", real_add)

    lead.refresh_from_db()
    assert lead.crm_state == State.PENDING and lead.bitrix_lead_id  # run again at once, not after the lease
    assert b24.comments.get(lead.bitrix_lead_id, []) == []
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    assert lead.crm_state == State.DONE and len(b24.comments[lead.bitrix_lead_id]) == 1


def test_the_claimer_writes_many_leads_back_in_one_batch_each_outcome_once(b24):
    """Issue 15: a burst's call outcomes go back as one `batch` (a comment and the mapped status per
    call), not a request per lead."""
    site = SiteFactory(bitrix_status_map={"human": "IN_PROCESS"})
    leads = [created_in_bitrix(b24, site=site) for _ in range(4)]
    for lead in leads:
        finished_call(lead, "human", duration=12)
        services.lead_outcome_announce(lead=lead)
    finished_call(leads[0], "busy", number=2)
    before = len(b24.requests)

    assert crm.crm_claim_run() == 1

    sent = b24.requests[before:]
    assert [r.method for r in sent] == ["batch"]
    assert len(sent[0].params["cmd"]) == 4 * 2 + 1  # four comments and statuses, and the second call's comment
    for lead in leads:
        lead.refresh_from_db()
        assert lead.crm_state == State.DONE and lead.crm_synced_attempt == (2 if lead == leads[0] else 1)
        assert b24.leads[lead.bitrix_lead_id]["STATUS_ID"] == "IN_PROCESS"
    assert [len(b24.comments[lead.bitrix_lead_id]) for lead in leads] == [2, 1, 1, 1]
    crm.crm_claim_run()  # nothing due: nothing sent again
    assert len(b24.requests) == before + 1


def announced_with_a_finished_call(site, n: int) -> list[Lead]:
    leads = LeadFactory.create_batch(n, site=site)
    in_bitrix_with_a_finished_call(leads)
    return leads


def test_leads_beyond_a_full_batch_are_deferred_together_untried_and_sent_by_the_next_one(b24):
    """A comment and the mapped status per call: 25 leads fill a batch of 50 commands. The claim takes up to
    50 leads; the rest are deferred in one statement, whatever their number, with no try spent and no
    timeline entry (it used to be a statement, a card refresh and a claimer kick per lead)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    site = SiteFactory(bitrix_status_map={"human": "IN_PROCESS"})
    statements = []
    for extra in (1, 5):
        leads = announced_with_a_finished_call(site, 25 + extra)
        events = {lead.pk: lead.events.count() for lead in leads}
        with CaptureQueriesContext(connection) as queries:
            assert crm.crm_write_backs_run() == 25
        # The leads' own statements (the rate limiter's, without Redis, are paid by the first run alone).
        statements.append(len([q for q in queries.captured_queries if '"leads_lead"' in q["sql"]]))
        back = [lead for lead in Lead.objects.filter(pk__in=[lead.pk for lead in leads], crm_synced_attempt=0)]
        assert len(back) == extra
        for lead in back:
            assert (lead.crm_state, lead.crm_tries, lead.events.count()) == (State.PENDING, 0, events[lead.pk])

        assert crm.crm_write_backs_run() == extra
        assert Lead.objects.filter(pk__in=[lead.pk for lead in leads], crm_state=State.DONE,
                                   crm_synced_attempt=1).count() == len(leads)
        Lead.objects.all().delete()

    assert statements[0] == statements[1]
