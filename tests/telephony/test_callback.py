"""The scenario's webhook: authenticated, idempotent, and every result routed."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads import pipeline
from leads.models import Lead, LeadEvent
from telephony.models import CallAttempt
from telephony.scenario import scenario_version
from telephony.tokens import attempt_token
from tests.conftest import beside
from tests.factories import CallAttemptFactory, LeadFactory, SiteFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/telephony/voximplant/callback/"
State, Status = Lead.StepState, CallAttempt.Status


@pytest.fixture
def calling(vox):
    """A lead whose first call is in progress at the fake; returns (lead, attempt)."""
    def start(**site_fields) -> tuple[Lead, CallAttempt]:
        lead = LeadFactory(site=SiteFactory(**site_fields)) if site_fields else LeadFactory()
        pipeline.step_run(step_name="call", lead_id=lead.pk)
        lead.refresh_from_db()
        return lead, lead.call_attempts.order_by("-number").first()
    return start


def post_result(api, attempt, result, **fields):
    body = {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk), "result": result, "duration": 12,
            "digits": "", "call_session_history_id": attempt.session_id, "detail": "", **fields}
    return api.post(URL, body, format="json")


def test_a_person_answering_marks_the_lead_reached_and_frees_its_ref(api, calling):
    lead, attempt = calling()
    response = post_result(api, attempt, "human", detail="amd:HUMAN")

    assert response.status_code == 200 and response.json() == {"status": "applied"}
    lead.refresh_from_db()
    attempt.refresh_from_db()
    assert (lead.status, lead.call_state) == (Lead.Status.REACHED, State.DONE) and lead.closed_at
    assert (attempt.status, attempt.outcome, attempt.duration) == (Status.FINISHED, "human", 12)
    assert lead.events.filter(kind=LeadEvent.Kind.CALL_RESULT).count() == 1


def test_a_person_pressing_the_callback_key_is_recorded(api, calling):
    lead, attempt = calling()
    post_result(api, attempt, "human", digits="1")

    attempt.refresh_from_db()
    assert attempt.digits == "1"
    assert lead.events.filter(kind=LeadEvent.Kind.NOTE, message__contains="call back").exists()


def test_a_repeated_result_answers_200_and_changes_nothing(api, calling):
    lead, attempt = calling()
    post_result(api, attempt, "busy")
    before = list(Lead.objects.filter(pk=lead.pk).values())
    response = post_result(api, attempt, "human")

    assert response.json() == {"status": "repeat"}
    assert list(Lead.objects.filter(pk=lead.pk).values()) == before
    assert CallAttempt.objects.get(pk=attempt.pk).outcome == "busy"


@pytest.mark.parametrize("forge", [
    lambda a: {"token": "forged"},
    lambda a: {"token": attempt_token(a.pk + 1)},  # another attempt's valid token
    lambda a: {"attempt_id": a.pk + 1000},  # unknown attempt
])
def test_a_forged_result_is_403_and_changes_nothing(api, calling, forge):
    lead, attempt = calling()
    response = post_result(api, attempt, "human", **forge(attempt))

    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.status == Lead.Status.IN_PROGRESS and CallAttempt.objects.get(pk=attempt.pk).status == Status.STARTED


@pytest.mark.parametrize("body", [
    {},
    {"attempt_id": "x", "token": "t", "result": "human"},
    {"attempt_id": 1, "token": "t", "result": "hung up"},
    {"attempt_id": 1, "token": "t", "result": "human", "duration": -1},
    ["not", "an", "object"],
])
def test_a_malformed_body_is_400(api, calling, body):
    lead, attempt = calling()

    assert api.post(URL, body, format="json").status_code == 400
    assert CallAttempt.objects.get(pk=attempt.pk).status == Status.STARTED


def test_a_body_that_is_not_json_is_400_or_415(api, calling):
    calling()

    assert api.generic("POST", URL, "{broken", content_type="application/json").status_code == 400
    assert api.generic("POST", URL, "a=b", content_type="application/x-www-form-urlencoded").status_code == 415


@pytest.mark.parametrize("result", ["voicemail", "no_answer", "busy"])
def test_unreached_results_schedule_the_next_call_after_the_sites_spacing(api, calling, result):
    lead, attempt = calling(call_cadence="0, 20m, 20m")
    post_result(api, attempt, result)

    lead.refresh_from_db()
    assert (lead.status, lead.call_state) == (Lead.Status.SCHEDULED, State.PENDING)
    wait = lead.scheduled_at - timezone.now()
    assert timedelta(minutes=19) < wait <= timedelta(minutes=20)


def test_the_next_call_waits_for_calling_hours(api, calling, settings):
    # Hours that close in 10 minutes: the next call goes to tomorrow's opening, not into the night.
    # No ramp: it would place the lead later in the opening by its share of the closed spell, a minute
    # or more when the test runs late in the day (tests/telephony/test_call_window.py covers the ramp).
    settings.WINDOW_RAMP_MINUTES = 0
    tz = next(zone for zone in ("UTC", "Asia/Tokyo") if timezone.now().astimezone(ZoneInfo(zone)).hour < 23)
    close = timezone.now().astimezone(ZoneInfo(tz)) + timedelta(minutes=10)
    lead, attempt = calling(call_cadence="0, 20m, 20m", time_zone=tz, calling_hours=f"mon-sun 00:00-{close:%H:%M}")
    post_result(api, attempt, "no_answer")

    lead.refresh_from_db()
    local = lead.scheduled_at.astimezone(ZoneInfo(tz))
    assert (local.date(), local.hour, local.minute) == (close.date() + timedelta(days=1), 0, 0)


def test_retries_are_bounded_and_then_the_lead_goes_to_manual_handling(api, calling, vox):
    lead, attempt = calling(call_cadence="0, 20m")
    post_result(api, attempt, "no_answer")
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=timezone.now())
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    second = lead.call_attempts.get(number=2)
    post_result(api, second, "busy")

    lead.refresh_from_db()
    assert lead.status == Lead.Status.MANUAL and "after 2 calls" in lead.manual_reason
    assert len(vox.sessions) == 2


def test_a_failed_call_goes_to_manual_handling_with_the_providers_reason(api, calling):
    lead, attempt = calling()
    post_result(api, attempt, "failed", detail="404 Invalid number")

    lead.refresh_from_db()
    assert lead.status == Lead.Status.MANUAL and "404 Invalid number" in lead.manual_reason


def test_a_late_result_after_the_watchdog_gave_up_is_kept_but_does_not_move_the_lead(api, calling):
    lead, attempt = calling()
    CallAttempt.objects.filter(pk=attempt.pk).update(status=Status.LOST)
    Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.MANUAL, call_state=State.FAILED)
    response = post_result(api, attempt, "human")

    assert response.json() == {"status": "late"}
    lead.refresh_from_db()
    assert lead.status == Lead.Status.MANUAL
    assert CallAttempt.objects.get(pk=attempt.pk).outcome == "human"


def test_the_scenario_fetches_its_settings_with_the_attempts_token(api, calling):
    lead, attempt = calling(recording_url="https://cdn.example/hello.mp3", caller_id="74951112233")
    response = api.get(URL, {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk)})

    assert response.status_code == 200
    body = response.json()
    assert (body["phone"], body["caller_id"], body["recording_url"], body["callback_digit"]) == (
        lead.phone, "74951112233", "https://cdn.example/hello.mp3", "1")
    assert lead.site.name in body["tts_text"]


def test_the_settings_are_one_statement_that_reads_none_of_the_leads_columns(api, calling):
    """Every call asks for them as it starts: the attempt and its site, not the lead's name, e-mail or request."""
    lead, attempt = calling()
    with CaptureQueriesContext(connection) as asked:
        assert api.get(URL, {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk)}).status_code == 200

    assert len(asked.captured_queries) == 1
    sql = asked.captured_queries[0]["sql"]
    assert '"leads_site"."recording_url"' in sql
    assert not any(f'"leads_lead"."{column}"' in sql for column in ("name", "email", "phone", "raw_request"))


def test_settings_with_a_wrong_token_are_403(api, calling):
    lead, attempt = calling()

    assert api.get(URL, {"attempt_id": attempt.pk, "token": "nope"}).status_code == 403
    assert api.get(URL, {"attempt_id": "x"}).status_code == 400


# --- the scenario's version handshake ---------------------------------------------------------
def test_the_settings_name_the_scenario_version_this_server_expects(api, calling):
    lead, attempt = calling()
    body = api.get(URL, {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk)}).json()

    assert body["scenario_version"] == scenario_version() == _declared_version()


def test_a_result_keeps_the_version_of_the_scenario_that_sent_it(api, calling):
    lead, attempt = calling()
    response = post_result(api, attempt, "busy", scenario_version=1, version_mismatch=True)

    assert response.json() == {"status": "applied"}
    attempt.refresh_from_db()
    assert (attempt.outcome, attempt.scenario_version) == ("busy", 1)


def test_a_scenario_older_than_the_handshake_still_reports_and_its_version_stays_empty(api, calling):
    lead, attempt = calling()
    response = post_result(api, attempt, "human")  # no scenario_version, no version_mismatch

    assert response.json() == {"status": "applied"}
    attempt.refresh_from_db()
    assert (attempt.outcome, attempt.scenario_version) == ("human", None)


@pytest.mark.parametrize("version", [0, -1, 40000, "two", 2.5])
def test_an_impossible_scenario_version_is_400_and_changes_nothing(api, calling, version):
    lead, attempt = calling()
    response = post_result(api, attempt, "human", scenario_version=version)

    assert response.status_code == 400 and "scenario_version" in response.json()
    attempt.refresh_from_db()
    assert (attempt.status, attempt.outcome, attempt.scenario_version) == (Status.STARTED, "", None)


def _declared_version() -> int:
    """Read from leadcaller.js here, independently of telephony.scenario."""
    source = (Path(__file__).resolve().parents[2] / "telephony" / "voxengine" / "leadcaller.js").read_text()
    return int(re.search(r"^\s*var SCENARIO_VERSION = (\d+);", source, re.MULTILINE).group(1))


@pytest.mark.parametrize("status", [Status.FINISHED, Status.LOST, Status.FAILED])
def test_a_finished_attempts_token_no_longer_gives_out_the_settings(api, calling, status):
    lead, attempt = calling()
    CallAttempt.objects.filter(pk=attempt.pk).update(status=status)

    response = api.get(URL, {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk)})

    assert response.status_code == 403 and lead.phone not in response.content.decode()


def test_after_its_result_an_attempts_settings_are_refused_but_a_repeat_result_is_still_200(api, calling):
    lead, attempt = calling()
    post_result(api, attempt, "busy")

    assert api.get(URL, {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk)}).status_code == 403
    assert post_result(api, attempt, "busy").json() == {"status": "repeat"}


@pytest.mark.parametrize("token", ["тест", "t\u00e9st", "\ud800", "a\x00b", "🔑" * 50])
def test_a_token_that_is_not_ascii_is_403_not_a_server_error(api, calling, token):
    lead, attempt = calling()

    posted = api.generic("POST", URL, json.dumps({"attempt_id": attempt.pk, "token": token, "result": "human"}),
                         content_type="application/json")
    query = urlencode({"attempt_id": attempt.pk, "token": token}, encoding="utf-8", errors="surrogatepass")
    fetched = api.get(f"{URL}?{query}")

    assert (posted.status_code, fetched.status_code) == (403, 403)
    assert CallAttempt.objects.get(pk=attempt.pk).status == Status.STARTED


@pytest.mark.parametrize("field", ["attempt_id", "call_session_history_id"])
def test_an_id_beyond_64_bits_is_400(api, calling, field):
    lead, attempt = calling()

    assert post_result(api, attempt, "human", **{field: 2 ** 64}).status_code == 400
    assert api.get(URL, {"attempt_id": 2 ** 64, "token": "x"}).status_code == 400


def while_the_result_is_recorded(monkeypatch, write) -> list[str]:
    """Run `write` beside the result's transaction, its locks held (a step listener runs inside it); what
    became of it."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite runs one writing transaction at a time)")
    seen: list[str] = []

    def probe(step_name, results):
        if step_name == "call":
            seen.append(beside(write))

    monkeypatch.setattr(pipeline, "_step_listeners", [*pipeline._step_listeners, probe])
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_result_does_not_lock_its_sites_row_so_the_sites_dials_never_queue_behind_it(api, calling, monkeypatch):
    """A dial locks its site's row for the budget check; a result (a dozen statements under load) used to
    lock it too, so in a burst every dial of the site waited for the results being recorded."""
    from leads.models import Site

    lead, attempt = calling()
    seen = while_the_result_is_recorded(  # as a dial of the same site
        monkeypatch, lambda: Site.objects.select_for_update(nowait=True).get(pk=lead.site_id))

    assert post_result(api, attempt, "human").status_code == 200
    assert seen == ["went through"]
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.REACHED


@pytest.mark.django_db(transaction=True)
def test_a_result_being_recorded_lets_an_entry_into_the_leads_timeline(api, calling, monkeypatch):
    """A result locks its attempt and lead. FOR UPDATE, that also held off the foreign-key check of an entry
    for the lead's timeline committed elsewhere (a claimer's, an admin's) until the result was recorded."""
    lead, attempt = calling()
    seen = while_the_result_is_recorded(monkeypatch, lambda: LeadEvent.objects.create(
        lead_id=lead.pk, kind=LeadEvent.Kind.NOTE, message="beside the result"))

    assert post_result(api, attempt, "human").status_code == 200
    assert seen == ["went through"]
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.REACHED


def test_a_person_reached_costs_no_statement_on_the_sites_settings_or_on_sellers_never_offered(api, calling):
    lead, attempt = calling()
    with CaptureQueriesContext(connection) as queries:
        assert post_result(api, attempt, "human").json() == {"status": "applied"}

    touched = [q["sql"] for q in queries
               if '"leads_site"' in q["sql"] or re.search(r'(FROM|UPDATE) "sellers_', q["sql"])]
    assert touched == []
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.REACHED



def test_a_person_reached_is_one_insert_for_its_three_timeline_entries(api, calling):
    lead, attempt = calling()
    with CaptureQueriesContext(connection) as queries:
        assert post_result(api, attempt, "human").json() == {"status": "applied"}

    inserts = [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "leads_leadevent"')]
    assert len(inserts) == 1
    assert list(lead.events.filter(kind__in=["call_result", "step_done", "status"]).order_by("id")
                .values_list("kind", flat=True)) == ["call_result", "step_done", "status"]


def test_a_person_reached_is_one_update_of_the_lead_with_its_outcome_and_the_crms_write_back(api, calling):
    lead, attempt = calling()
    Lead.objects.filter(pk=lead.pk).update(crm_state=State.DONE, crm_due_at=None)  # in Bitrix24 already
    with CaptureQueriesContext(connection) as queries:
        assert post_result(api, attempt, "human").json() == {"status": "applied"}

    assert len([q for q in queries if q["sql"].startswith('UPDATE "leads_lead"')]) == 1
    lead.refresh_from_db()
    assert (lead.status, lead.call_state, lead.last_call_outcome) == (Lead.Status.REACHED, State.DONE, "human")
    assert lead.closed_at and lead.crm_resync and lead.crm_state == State.PENDING and lead.crm_due_at
    assert lead.events.filter(kind=LeadEvent.Kind.STATUS).count() == 1


def test_a_result_for_a_call_step_no_longer_running_still_tells_the_crm_but_does_not_end_the_lead(api, calling):
    lead, attempt = calling()
    Lead.objects.filter(pk=lead.pk).update(call_state=State.PENDING, crm_state=State.DONE, crm_due_at=None)

    assert post_result(api, attempt, "human").json() == {"status": "applied"}
    lead.refresh_from_db()
    assert (lead.status, lead.call_state, lead.last_call_outcome) == (Lead.Status.IN_PROGRESS, State.PENDING, "human")
    assert lead.crm_resync and lead.crm_state == State.PENDING and lead.crm_due_at
    assert not lead.events.filter(kind=LeadEvent.Kind.STATUS).exists()


def test_a_late_result_of_an_older_attempt_leaves_the_newer_attempts_outcome_on_the_lead(api, calling):
    lead, first = calling()
    CallAttempt.objects.filter(pk=first.pk).update(status=Status.LOST)
    second = CallAttemptFactory(lead=lead, number=2, phone=lead.phone, status=Status.FINISHED, outcome="busy")
    Lead.objects.filter(pk=lead.pk).update(last_call_outcome="busy")

    assert post_result(api, first, "no_answer").json() == {"status": "late"}
    assert Lead.objects.get(pk=lead.pk).last_call_outcome == "busy"
    CallAttempt.objects.filter(pk=second.pk).update(outcome="")  # the newer one has no outcome yet
    third = CallAttemptFactory(lead=lead, number=3, phone=lead.phone, status=Status.LOST)
    assert post_result(api, third, "voicemail").json() == {"status": "late"}
    assert Lead.objects.get(pk=lead.pk).last_call_outcome == "voicemail"
