"""The call step against the fake VoxImplant: dial, guards, hours, provider errors, no double dial, watchdog."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads import pipeline
from leads.models import Lead, LeadEvent
from telephony import services
from telephony.models import CallAttempt
from telephony.tokens import attempt_token
from tests.conftest import beside
from tests.factories import LeadFactory, SiteFactory

pytestmark = pytest.mark.django_db
State, Status = Lead.StepState, CallAttempt.Status


def run_call(lead: Lead) -> Lead:
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    lead.refresh_from_db()
    return lead


def make_due(lead: Lead) -> None:
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=timezone.now())


def start_requests(vox) -> list:
    return [r for r in vox.requests if r.cmd == "StartScenarios"]


def test_a_new_lead_is_dialled_with_custom_data_the_scenario_can_use(vox, settings):
    lead = run_call(LeadFactory(phone="+79123456789"))

    attempt = lead.call_attempts.get()
    assert (attempt.status, attempt.number, attempt.session_id) == (Status.STARTED, 1, vox.sessions[0].id)
    assert lead.call_state == State.RUNNING and lead.status == Lead.Status.IN_PROGRESS
    assert lead.scheduled_at > timezone.now() + timedelta(seconds=settings.CALL_RESULT_TIMEOUT - 10)
    request = start_requests(vox)[0]
    assert request.params["rule_id"] == "1"
    data = json.loads(request.params["script_custom_data"])
    assert data == {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk), "phone": "+79123456789",
                    "caller_id": "74950000000",
                    "callback_url": f"{settings.PUBLIC_BASE_URL}/api/v1/telephony/voximplant/callback/"}
    assert len(request.params["script_custom_data"].encode()) <= services.CUSTOM_DATA_LIMIT
    assert "test-callback-secret" not in request.params["script_custom_data"]


def test_custom_data_keeps_id_token_and_callback_url_when_phone_and_caller_id_do_not_fit(vox, settings):
    settings.PUBLIC_BASE_URL = "https://" + "x" * 80 + ".example"
    run_call(LeadFactory())

    data = json.loads(start_requests(vox)[0].params["script_custom_data"])
    assert set(data) == {"attempt_id", "token", "callback_url"}


def test_the_sites_rule_overrides_the_global_one(vox):
    vox.seed_rule(77)
    run_call(LeadFactory(site=SiteFactory(call_rule_id="77")))

    assert start_requests(vox)[0].params["rule_id"] == "77"


def test_without_credentials_the_lead_goes_to_manual_handling(settings):
    settings.VOXIMPLANT_CREDENTIALS = settings.VOXIMPLANT_ACCOUNT_ID = ""
    lead = run_call(LeadFactory())

    assert lead.status == Lead.Status.MANUAL and "not configured" in lead.manual_reason


@pytest.mark.parametrize("phone", ["+7912345678", "+380501234567"])
def test_a_number_that_may_not_be_called_goes_to_manual_handling_and_never_to_the_provider(vox, phone):
    lead = run_call(LeadFactory(phone=phone))

    assert lead.status == Lead.Status.MANUAL and phone in lead.manual_reason
    assert start_requests(vox) == [] and not lead.call_attempts.exists()


def test_outside_calling_hours_the_call_is_scheduled_for_the_next_window(vox, settings):
    settings.CALLING_HOURS = "mon-sun 09:00-21:00"
    # Whatever the hour, in one of these zones it is now night.
    tz = next(zone for zone in ("Europe/London", "Asia/Tokyo", "America/Los_Angeles")
              if not 9 <= timezone.now().astimezone(ZoneInfo(zone)).hour < 21)
    lead = run_call(LeadFactory(site=SiteFactory(time_zone=tz)))

    local = lead.scheduled_at.astimezone(ZoneInfo(tz))
    assert local.hour == 9 and local.minute < settings.WINDOW_RAMP_MINUTES  # a backlog's place in the ramp
    assert lead.call_state == State.PENDING and lead.status == Lead.Status.SCHEDULED
    assert start_requests(vox) == []
    assert lead.events.filter(kind=LeadEvent.Kind.STEP_LATER).exists()


def test_budget_used_up_sends_the_lead_to_manual_handling(vox):
    site = SiteFactory(call_daily_budget=1)
    run_call(LeadFactory(site=site))
    lead = run_call(LeadFactory(site=site))

    assert lead.status == Lead.Status.MANUAL and "budget" in lead.manual_reason
    assert len(start_requests(vox)) == 1


def test_a_flood_of_leads_for_one_number_turns_into_at_most_the_daily_maximum_of_calls(vox, settings):
    settings.CALL_MAX_PER_NUMBER = 2
    leads = [run_call(LeadFactory(phone="+79123456789", ref=f"bot-{i}")) for i in range(6)]

    assert len(start_requests(vox)) == 2
    assert [lead.status for lead in leads].count(Lead.Status.MANUAL) == 4


def test_bad_credentials_or_rule_go_to_manual_handling_with_the_reason(vox):
    vox.fail_next("StartScenarios", "auth")
    lead = run_call(LeadFactory())

    assert lead.status == Lead.Status.MANUAL and "Authorization failed" in lead.manual_reason
    assert lead.call_attempts.get().status == Status.FAILED


def test_429_is_retried_with_backoff_and_the_refused_try_does_not_count_as_a_dial(vox):
    vox.fail_next("StartScenarios", "http429")
    lead = run_call(LeadFactory())

    assert lead.call_state == State.PENDING and lead.scheduled_at > timezone.now()
    make_due(lead)
    lead = run_call(lead)
    assert [a.status for a in lead.call_attempts.order_by("number")] == [Status.FAILED, Status.STARTED]
    assert len(vox.sessions) == 1


def test_a_timed_out_start_is_reconciled_through_call_history_and_never_dialled_twice(vox, short_timeouts):
    vox.fail_next("StartScenarios", "timeout")
    lead = run_call(LeadFactory())
    assert lead.call_attempts.get().status == Status.STARTING  # we don't know: not failed, not started

    vox.wait_for(lambda: vox.sessions)
    make_due(lead)
    lead = run_call(lead)  # the retry (or a redelivered task)

    attempt = lead.call_attempts.get()
    assert (attempt.status, attempt.session_id) == (Status.STARTED, vox.sessions[0].id)
    assert len(start_requests(vox)) == 1 and len(vox.sessions) == 1
    assert lead.call_state == State.RUNNING


def test_a_start_that_never_reached_the_provider_is_dialled_again_once_history_shows_nothing(vox):
    vox.fail_next("StartScenarios", "drop")
    lead = run_call(LeadFactory())
    attempt = lead.call_attempts.get()
    assert attempt.status == Status.STARTING

    CallAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - services.HISTORY_LAG * 2)
    make_due(lead)
    lead = run_call(lead)

    assert [a.status for a in lead.call_attempts.order_by("number")] == [Status.FAILED, Status.STARTED]
    assert len(vox.sessions) == 1


def test_a_first_dial_reads_no_earlier_attempts_and_a_later_one_does(vox):
    lead = LeadFactory()
    with CaptureQueriesContext(connection) as first:
        lead = run_call(lead)
    CallAttempt.objects.filter(lead=lead).update(status=Status.FINISHED, outcome="no_answer")
    Lead.objects.filter(pk=lead.pk).update(call_state=State.PENDING)
    make_due(lead)
    with CaptureQueriesContext(connection) as second:
        lead = run_call(lead)

    def attempt_reads(captured) -> list[str]:  # the lead's latest attempt (budget checks count the site's)
        return [q["sql"] for q in captured if 'ORDER BY "telephony_callattempt"."number" DESC' in q["sql"]]
    assert attempt_reads(first) == [] and len(attempt_reads(second)) == 1
    assert [a.number for a in lead.call_attempts.order_by("number")] == [1, 2]


def test_history_is_not_trusted_to_be_empty_right_after_the_start(vox):
    vox.fail_next("StartScenarios", "drop")
    lead = run_call(LeadFactory())
    make_due(lead)
    lead = run_call(lead)

    assert lead.call_attempts.get().status == Status.STARTING
    assert lead.scheduled_at >= timezone.now() + services.HISTORY_LAG - timedelta(seconds=2)
    assert vox.sessions == []


def test_a_redelivered_task_during_the_call_does_not_dial_again(vox):
    lead = run_call(LeadFactory())
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=timezone.now())  # as if the lease had ended early
    lead = run_call(lead)

    assert len(start_requests(vox)) == 1 and lead.call_state == State.RUNNING


def test_provider_errors_that_never_clear_end_in_manual_handling(vox):
    lead = LeadFactory()
    vox.fail_next("StartScenarios", "internal", times=20)
    for _ in range(pipeline.STEPS["call"].max_tries):
        lead = run_call(lead)
        make_due(lead)

    assert lead.status == Lead.Status.MANUAL and "gave up after" in lead.manual_reason


# --- the watchdog -----------------------------------------------------------------------------
def past_deadline(lead: Lead, settings) -> None:
    long_ago = timezone.now() - timedelta(seconds=settings.CALL_RESULT_TIMEOUT + 5)
    CallAttempt.objects.filter(lead=lead).update(started_at=long_ago, created_at=long_ago)
    make_due(lead)


def test_watchdog_routes_a_silent_call_that_history_shows_unanswered_as_no_answer(vox, settings):
    lead = run_call(LeadFactory())
    vox.set_call(vox.sessions[0].id, successful=False)
    past_deadline(lead, settings)
    lead = run_call(lead)

    assert lead.call_attempts.get().status == Status.LOST
    assert lead.status == Lead.Status.SCHEDULED and lead.call_state == State.PENDING


def test_watchdog_sends_an_answered_call_without_result_to_manual_handling(vox, settings):
    lead = run_call(LeadFactory())
    vox.set_call(vox.sessions[0].id, successful=True, duration=20)
    past_deadline(lead, settings)
    lead = run_call(lead)

    assert lead.status == Lead.Status.MANUAL and "answered" in lead.manual_reason


def test_watchdog_waits_a_little_longer_for_a_call_still_in_progress(vox, settings):
    lead = run_call(LeadFactory())
    past_deadline(lead, settings)
    lead = run_call(lead)

    assert lead.call_state == State.RUNNING and lead.call_attempts.get().status == Status.STARTED
    assert timezone.now() < lead.scheduled_at <= timezone.now() + timedelta(minutes=1)


def test_a_result_recorded_before_the_start_is_noted_keeps_the_attempt_finished(vox):
    lead = run_call(LeadFactory())
    attempt = lead.call_attempts.get()
    # The scenario was fast: its result finished the attempt before the dial's answer was written.
    CallAttempt.objects.filter(pk=attempt.pk).update(status=Status.FINISHED, outcome="human", session_id=None,
                                                     started_at=None)
    services._started(attempt, 4242, "https://media.example/1", timezone.now())

    attempt.refresh_from_db()
    assert (attempt.status, attempt.outcome, attempt.started_at) == (Status.FINISHED, "human", None)
    assert attempt.session_id == 4242
    assert attempt.media_session_url == "https://media.example/1"


@pytest.mark.django_db(transaction=True)
def test_a_dials_locks_let_the_sites_new_leads_and_the_leads_timeline_in(vox, monkeypatch):
    """A dial locks its lead's and site's rows for the budget check. Locked FOR UPDATE, they also held off
    every foreign-key check on them: in a burst, each new lead of the site waited at its commit for the dial
    in progress to end, and so did a timeline entry for the dialled lead written elsewhere."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite runs one writing transaction at a time)")
    lead = LeadFactory(phone="+79123456789")
    seen: list[str] = []

    def write_beside_the_dial() -> None:  # as an intake and a claimer would
        LeadFactory(site=lead.site, phone="+79123456780")
        LeadEvent.objects.create(lead_id=lead.pk, kind=LeadEvent.Kind.NOTE, message="beside the dial")

    budget_block = services.budget_block

    def probe(lead_, cfg, now):  # runs inside the dial's transaction, its locks held
        seen.append(beside(write_beside_the_dial))
        return budget_block(lead_, cfg, now)

    monkeypatch.setattr(services, "budget_block", probe)

    assert run_call(lead).call_state == State.RUNNING
    assert seen == ["went through"]
    assert len(start_requests(vox)) == 1
