"""Call outcomes reach Bitrix24 together (CRM_WRITE_BACK_GATHER): a stream of calls ending costs a batch per
span, not one per claim; new leads are never held back by it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from leads import crm
from leads.models import Lead
from tests.factories import LeadFactory
from tests.leads.conftest import finished_call, in_bitrix_with_a_finished_call
from tests.leads.test_crm_claimer import due_now

pytestmark = pytest.mark.django_db
State = Lead.StepState
GATHER = 5.0


@pytest.fixture(autouse=True)
def gather(settings):
    settings.CRM_WRITE_BACK_GATHER = GATHER


def time_passes(leads: list[Lead], seconds: float) -> None:
    """Their CRM step's due times come `seconds` nearer (as if that long went by)."""
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(
        crm_due_at=F("crm_due_at") - timedelta(seconds=seconds))


def write_backs(b24) -> list[dict]:
    """The batches that carried comments."""
    return [r for r in b24.requests if r.method == "batch" and "crm.timeline.comment.add" in str(r.params)]


def test_an_outcome_is_due_the_gather_later_and_its_claimer_is_sent_for_then(
        b24, sent, django_capture_on_commit_callbacks):
    [lead] = due_now(1)
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        in_bitrix_with_a_finished_call([lead])

    lead.refresh_from_db()
    assert lead.crm_state == State.PENDING and lead.crm_due_at >= before + timedelta(seconds=GATHER)
    assert [(name, countdown) for name, _, countdown in sent] == [("leads.tasks.crm_claim", GATHER)]
    assert crm.crm_claim_run() == 0 and write_backs(b24) == []  # nothing is written before then


def test_outcomes_of_one_span_go_in_one_batch_and_a_retry_keeps_its_backoff(b24, sent):
    leads = due_now(4)
    in_bitrix_with_a_finished_call(leads[:3])  # all four added, three called
    time_passes(leads[:1], GATHER)  # the first is due; the other two came within its span
    retry = Lead.objects.get(pk=leads[3].pk)  # in Bitrix24 now
    finished_call(retry)
    Lead.objects.filter(pk=retry.pk).update(crm_state=State.PENDING, crm_resync=False,
                                            crm_due_at=timezone.now() + timedelta(seconds=2))  # its backoff

    assert crm.crm_claim_run() == 1

    [batch] = write_backs(b24)
    written = set(Lead.objects.filter(crm_synced_attempt=1).values_list("pk", flat=True))
    assert written == {lead.pk for lead in leads[:3]} and f"l{retry.pk}c" not in str(batch.params)
    assert Lead.objects.get(pk=retry.pk).crm_state == State.PENDING


def test_a_new_lead_is_added_at_once_while_outcomes_gather(b24, sent):
    in_bitrix_with_a_finished_call(due_now(1))
    new = LeadFactory(crm_due_at=timezone.now(), call_state=State.DONE, notify_state=State.DONE)

    assert crm.crm_claim_run() == 1

    assert Lead.objects.get(pk=new.pk).bitrix_lead_id is not None and write_backs(b24) == []
