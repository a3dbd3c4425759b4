"""The opt-out key and the do-not-call list on the call path: a "stop" lists the number at once and ends
the lead; a listed number's lead is stored but never dialled; the disclosure reaches the scenario."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dnc.models import Entry
from dnc.services import dnc_add
from leads import pipeline
from leads.models import Lead, LeadEvent, OptOutScope
from notifications import messages
from telephony.models import CallAttempt
from telephony.tokens import attempt_token
from tests.factories import LeadFactory, PartnerFactory, SiteFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/telephony/voximplant/callback/"
State, Status = Lead.StepState, CallAttempt.Status


def run_call(lead: Lead) -> Lead:
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    lead.refresh_from_db()
    return lead


def post_result(api, attempt, result, **fields):
    body = {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk), "result": result, "duration": 9,
            "digits": "", "call_session_history_id": attempt.session_id, "detail": "amd:HUMAN", **fields}
    return api.post(URL, body, format="json")


def calling(**site_fields) -> tuple[Lead, CallAttempt]:
    lead = run_call(LeadFactory(site=SiteFactory(**site_fields)))
    return lead, lead.call_attempts.get()


# --- the key press ------------------------------------------------------------------------------
def test_the_opt_out_key_lists_the_number_for_every_site_and_ends_the_lead_opted_out(api, vox):
    lead, attempt = calling()
    response = post_result(api, attempt, "opted_out", digits="9")

    assert response.json() == {"status": "applied"}
    lead.refresh_from_db()
    assert (lead.status, lead.call_state) == (Lead.Status.OPTED_OUT, State.SKIPPED) and lead.closed_at
    assert "Pressed 9 during call 1" in lead.opt_out_reason
    entry = Entry.objects.get()
    assert (entry.phone, entry.scope, entry.source, entry.lead_id) == (lead.phone, "all", "key_press", lead.pk)
    assert (CallAttempt.objects.get(pk=attempt.pk).outcome, lead.last_call_outcome) == ("opted_out", "opted_out")
    assert "Opted out, never called again" in messages.card(lead)[0]


def test_an_opted_out_lead_frees_its_ref_and_is_never_called_again(api, vox):
    lead, attempt = calling()
    post_result(api, attempt, "opted_out", digits="9")
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=timezone.now())
    run_call(lead)  # a stray message for the step changes nothing

    again = api.post("/api/v1/leads/", {"phone": lead.phone}, format="json", HTTP_ORIGIN=f"https://{lead.site.domain}")
    assert again.status_code == 201 and again.json()["duplicate"] is False
    second = run_call(Lead.objects.get(public_id=again.json()["id"]))
    assert second.status == Lead.Status.OPTED_OUT and "do-not-call list" in second.opt_out_reason
    assert len(vox.sessions) == 1, "the number was dialled once, before it opted out"


def test_a_sites_own_opt_out_scope_lists_the_number_for_that_site_only(api, vox):
    lead, attempt = calling(opt_out_scope=OptOutScope.SITE)
    post_result(api, attempt, "opted_out", digits="9")

    entry = Entry.objects.get()
    assert (entry.scope, entry.site_id) == ("site", lead.site_id)
    elsewhere = run_call(LeadFactory(phone=lead.phone))
    assert elsewhere.status == Lead.Status.IN_PROGRESS and len(vox.sessions) == 2


def test_a_repeated_opt_out_answers_200_and_lists_nothing_twice(api, vox):
    lead, attempt = calling()
    post_result(api, attempt, "opted_out", digits="9")

    assert post_result(api, attempt, "opted_out", digits="9").json() == {"status": "repeat"}
    assert Entry.objects.count() == 1
    assert lead.events.filter(kind=LeadEvent.Kind.STATUS, message__startswith="opted out").count() == 1


def test_a_late_opt_out_after_the_watchdog_scheduled_a_retry_is_still_honoured(api, vox):
    lead, attempt = calling()
    CallAttempt.objects.filter(pk=attempt.pk).update(status=Status.LOST)
    Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.SCHEDULED, call_state=State.PENDING,
                                           scheduled_at=timezone.now())
    response = post_result(api, attempt, "opted_out", digits="9")

    assert response.json() == {"status": "late"}
    lead.refresh_from_db()
    assert (lead.status, lead.call_state, lead.scheduled_at) == (Lead.Status.OPTED_OUT, State.SKIPPED, None)
    assert Entry.objects.filter(phone=lead.phone, removed_at=None).exists()
    assert run_call(lead).call_attempts.count() == 1 and len(vox.sessions) == 1


def test_the_callback_key_still_asks_for_a_call_back_and_lists_nothing(api, vox):
    lead, attempt = calling()
    post_result(api, attempt, "human", digits="1")

    lead.refresh_from_db()
    assert lead.status == Lead.Status.REACHED and not Entry.objects.exists()
    assert lead.events.filter(kind=LeadEvent.Kind.NOTE, message__contains="call back").exists()


# --- a listed number ------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["all", "site", "partner"])
def test_a_listed_numbers_lead_is_stored_but_never_dialled_and_says_why(vox, target):
    site, partner = SiteFactory(), PartnerFactory()
    dnc_add(phone="+79121112233", source=Entry.Source.ADMIN, reason="asked by email",
            site=site if target == "site" else None, partner=partner if target == "partner" else None)
    lead = run_call(LeadFactory(site=site, partner=partner, phone="+79121112233"))

    assert (lead.status, lead.call_state) == (Lead.Status.OPTED_OUT, State.SKIPPED)
    assert "do-not-call list" in lead.opt_out_reason and "added in the admin" in lead.opt_out_reason
    assert not lead.call_attempts.exists() and vox.sessions == []
    assert "do-not-call list" in messages.card(lead)[0]


def test_an_entry_for_another_site_or_partner_or_a_removed_one_does_not_stop_the_call(vox):
    other_site, other_partner = SiteFactory(), PartnerFactory()
    dnc_add(phone="+79121112233", source=Entry.Source.ADMIN, site=other_site)
    dnc_add(phone="+79121112233", source=Entry.Source.ADMIN, partner=other_partner)
    dnc_add(phone="+79121112233", source=Entry.Source.ADMIN)
    Entry.objects.filter(scope="all").update(removed_at=timezone.now())
    lead = run_call(LeadFactory(phone="+79121112233", partner=PartnerFactory()))

    assert lead.status == Lead.Status.IN_PROGRESS and len(vox.sessions) == 1


def test_a_dial_reads_the_list_in_the_statement_that_locks_the_lead_under_the_numbers_lock(vox):
    lead = LeadFactory(phone="+79121112233")
    with CaptureQueriesContext(connection) as dial:
        run_call(lead)

    reads = [q["sql"] for q in dial.captured_queries if Entry._meta.db_table in q["sql"]]
    assert len(reads) == 1 and Lead._meta.db_table in reads[0]
    if connection.vendor == "postgresql":  # the number's lock first, then the rows and the list
        statements = [q["sql"] for q in dial.captured_queries]
        lock = next(i for i, sql in enumerate(statements) if "pg_advisory_xact_lock" in sql)
        assert "FOR NO KEY UPDATE" in reads[0] and statements.index(reads[0]) == lock + 1


def test_call_again_from_the_admin_never_redials_an_opted_out_lead(vox, admin_user):
    from leads.handling import lead_call_now

    dnc_add(phone="+79121112233", source=Entry.Source.ADMIN)
    lead = run_call(LeadFactory(phone="+79121112233"))

    assert lead_call_now(lead=lead, user=admin_user) is False
    assert vox.sessions == []


def test_a_manual_lead_called_again_after_its_number_was_listed_ends_opted_out(vox, admin_user):
    from leads.handling import lead_call_again

    lead = LeadFactory(phone="+79121112233", status=Lead.Status.MANUAL, call_state=State.FAILED)
    dnc_add(phone="+79121112233", source=Entry.Source.API)
    assert lead_call_again(lead=lead, user=admin_user)

    assert run_call(lead).status == Lead.Status.OPTED_OUT and vox.sessions == []


def test_a_test_call_to_a_listed_number_is_refused(vox, admin_user):
    from telephony.probe_calls import ProbeCallRefused, probe_call_start

    dnc_add(phone="+79121112233", source=Entry.Source.ADMIN)
    with pytest.raises(ProbeCallRefused, match="do-not-call"):
        probe_call_start(user=admin_user, phone="+7 912 111-22-33", site=None)
    assert vox.sessions == []


# --- what the scenario is given -------------------------------------------------------------------
def test_the_settings_carry_the_sites_disclosure_opt_out_key_and_caller_id(api, vox):
    lead, attempt = calling(name="Shop", caller_id="74951112233", opt_out_digit="0",
                            disclosure_url="https://cdn.example/disclosure.mp3")
    body = api.get(URL, {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk)}).json()

    assert (body["caller_id"], body["disclosure_url"], body["opt_out_digit"]) == (
        "74951112233", "https://cdn.example/disclosure.mp3", "0")
    assert "automated call from Shop" in body["disclosure_text"] and "press 0" in body["disclosure_text"]
    assert body["opt_out_text"] and body["callback_digit"] == "1"
    custom = json.loads(vox.requests[-1].params["script_custom_data"])
    assert custom["caller_id"] == "74951112233", "the site's caller ID is the one dialled from"


def test_without_a_sites_caller_id_the_global_one_is_used(api, vox):
    lead, attempt = calling(disclosure_text="Robot call from the shop. Press 9 to stop.")
    body = api.get(URL, {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk)}).json()

    assert body["caller_id"] == "74950000000" == json.loads(vox.requests[-1].params["script_custom_data"])["caller_id"]
    assert body["disclosure_text"] == "Robot call from the shop. Press 9 to stop."


@pytest.mark.parametrize("digit", ["1", "x", "", "99"])
def test_an_opt_out_key_that_clashes_with_the_callback_key_or_is_no_key_is_refused(digit):
    site = SiteFactory.build(domain="x.example", name="X", opt_out_digit=digit)

    with pytest.raises(ValidationError) as refused:
        site.full_clean()
    assert "opt_out_digit" in refused.value.message_dict


@pytest.mark.parametrize("digit", ["0", "9", "*", "#"])
def test_any_other_key_may_be_the_opt_out_key(digit):
    SiteFactory.build(domain="x.example", name="X", opt_out_digit=digit).full_clean()


def test_an_unknown_result_is_still_refused(api, vox):
    lead, attempt = calling()

    assert post_result(api, attempt, "opted_in").status_code == 400
    assert not Entry.objects.exists() and Lead.objects.get(pk=lead.pk).status == Lead.Status.IN_PROGRESS


def test_another_lead_of_the_number_due_later_is_not_called_after_the_opt_out(api, vox):
    lead, attempt = calling(call_cadence="0, 1m")
    twin = LeadFactory(site=lead.site, phone=lead.phone, ref="other form",
                       scheduled_at=timezone.now() + timedelta(minutes=5))
    post_result(api, attempt, "opted_out", digits="9")
    Lead.objects.filter(pk=twin.pk).update(scheduled_at=timezone.now())

    assert run_call(twin).status == Lead.Status.OPTED_OUT and len(vox.sessions) == 1


def test_a_listed_numbers_lead_arriving_at_night_ends_at_once_instead_of_waiting_for_the_morning(vox, settings):
    later = timezone.now().astimezone(ZoneInfo("UTC")) + timedelta(hours=2)
    closed = f"mon-sun {later:%H}:00-{later:%H}:30"  # the window opens more than an hour from now
    dnc_add(phone="+79121112233", source=Entry.Source.ADMIN)
    lead = run_call(LeadFactory(phone="+79121112233", site=SiteFactory(calling_hours=closed, time_zone="UTC")))

    assert lead.status == Lead.Status.OPTED_OUT and lead.scheduled_at is None and vox.sessions == []
