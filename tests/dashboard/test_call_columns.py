"""The call step keeps the lead columns the dashboard reads: the first dial and the latest outcome."""

from __future__ import annotations

import pytest
from django.utils import timezone

from leads import pipeline
from leads.models import Lead
from telephony.models import CallAttempt
from telephony.tokens import attempt_token
from tests.factories import LeadFactory, SiteFactory

pytestmark = pytest.mark.django_db


def post_result(api, attempt: CallAttempt, result: str):
    body = {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk), "result": result, "duration": 5,
            "digits": "", "call_session_history_id": attempt.session_id, "detail": ""}
    return api.post("/api/v1/telephony/voximplant/callback/", body, format="json")


def dial(lead: Lead) -> CallAttempt:
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=timezone.now())
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    return lead.call_attempts.order_by("-number").first()


def test_the_first_dial_time_is_the_first_attempts_and_the_outcome_the_latest(api, vox):
    lead = LeadFactory(site=SiteFactory(call_cadence="0, 20m, 20m"))
    first = dial(lead)
    post_result(api, first, "no_answer")
    second = dial(lead)
    post_result(api, second, "voicemail")

    lead.refresh_from_db()
    assert lead.first_dial_at == first.created_at
    assert lead.last_call_outcome == "voicemail"


def test_a_late_result_of_an_older_attempt_does_not_replace_a_newer_outcome(api, vox):
    lead = LeadFactory(site=SiteFactory(call_cadence="0, 20m, 20m"))
    first = dial(lead)
    CallAttempt.objects.filter(pk=first.pk).update(status=CallAttempt.Status.LOST)
    Lead.objects.filter(pk=lead.pk).update(call_state=Lead.StepState.PENDING)
    second = dial(lead)
    post_result(api, second, "busy")
    post_result(api, first, "human")  # the lost attempt's result arrives after all

    lead.refresh_from_db()
    assert second.number == 2 and lead.last_call_outcome == "busy"
