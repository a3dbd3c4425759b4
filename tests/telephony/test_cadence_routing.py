"""The cadence at work: the next call's due time by outcome, the plan on the lead's page, skip and stop,
and a lead closed in the admin while its call is due is never dialled."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from leads import handling, pipeline
from leads.models import Lead, Site
from telephony.call_plan import lead_call_plan
from telephony.cadence_handling import lead_call_skip_next, lead_calls_stop
from tests.admin_forms import site_form_data
from tests.factories import LeadFactory, SiteFactory
from tests.telephony.test_callback import post_result

pytestmark = pytest.mark.django_db
State = Lead.StepState


def dial(lead: Lead):
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=timezone.now())
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    return lead.call_attempts.order_by("-number").first()


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("boss", password="pw")


@pytest.mark.parametrize("result, minutes", [("no_answer", 5), ("busy", 2), ("voicemail", 45)])
def test_the_outcome_picks_the_cadence_of_the_next_delay(api, vox, result, minutes):
    site = SiteFactory(call_cadence="0, 5m, 30m", call_cadence_busy="0, 2m", call_cadence_voicemail="0, 45m")
    lead = LeadFactory(site=site)
    post_result(api, dial(lead), result)

    lead.refresh_from_db()
    wait = lead.scheduled_at - timezone.now()
    assert lead.status == Lead.Status.SCHEDULED
    assert timedelta(minutes=minutes - 1) < wait <= timedelta(minutes=minutes)


def test_a_day_step_lands_at_that_time_on_the_leads_clock_inside_its_window(api, vox, settings):
    settings.LEAD_LOCAL_HOURS = "08:00-21:00"
    site = SiteFactory(call_cadence="0, next day 10:00", time_zone="Europe/Moscow")
    # A Vladivostok fixed line, its first call made now whatever the hour there (as a person may ask)
    lead = LeadFactory(site=site, phone="+74232123456", call_ignore_hours=True)
    post_result(api, dial(lead), "no_answer")

    lead.refresh_from_db()
    local = lead.scheduled_at.astimezone(ZoneInfo("Asia/Vladivostok"))
    today = timezone.now().astimezone(ZoneInfo("Asia/Vladivostok")).date()
    assert (local.date(), local.hour, local.minute) == (today + timedelta(days=1), 10, 0)


def test_the_cadence_ends_in_manual_handling_after_its_last_call(api, vox):
    lead = LeadFactory(site=SiteFactory(call_cadence="0, 5m", call_cadence_busy="0, 1m, 1m"))
    post_result(api, dial(lead), "no_answer")
    post_result(api, dial(lead), "no_answer")

    lead.refresh_from_db()
    assert lead.status == Lead.Status.MANUAL and "after 2 calls" in lead.manual_reason
    assert len(vox.sessions) == 2


def test_the_plan_shows_done_next_and_remaining_calls(api, vox):
    lead = LeadFactory(site=SiteFactory(call_cadence="0, 5m, 30m, 2h"))
    post_result(api, dial(lead), "busy")
    lead.refresh_from_db()
    plan = lead_call_plan(lead, timezone.now())

    assert [(c.number, c.state) for c in plan] == [(1, "done"), (2, "next"), (3, "planned"), (4, "planned")]
    assert plan[0].outcome == "busy" and plan[1].at == lead.scheduled_at
    assert plan[2].at == lead.scheduled_at + timedelta(minutes=30)
    assert plan[3].at == plan[2].at + timedelta(hours=2)


def test_skipping_the_next_call_moves_to_the_one_after_it(api, vox, staff):
    lead = LeadFactory(site=SiteFactory(call_cadence="0, 5m, 30m, 2h"))
    post_result(api, dial(lead), "no_answer")
    lead.refresh_from_db()
    due = lead.scheduled_at

    assert lead_call_skip_next(lead=lead, user=staff)
    lead.refresh_from_db()
    assert lead.scheduled_at == due + timedelta(minutes=30) and lead.call_skips == 1
    assert [c.state for c in lead_call_plan(lead, timezone.now())] == ["done", "skipped", "next", "planned"]
    post_result(api, dial(lead), "no_answer")  # call 3 of 4: the next delay is the cadence's fourth
    lead.refresh_from_db()
    assert timedelta(minutes=119) < lead.scheduled_at - timezone.now() <= timedelta(hours=2)


def test_skipping_the_last_call_stops_the_calls(api, vox, staff):
    lead = LeadFactory(site=SiteFactory(call_cadence="0, 5m"))
    post_result(api, dial(lead), "no_answer")

    assert lead_call_skip_next(lead=Lead.objects.get(pk=lead.pk), user=staff)
    lead.refresh_from_db()
    assert (lead.status, lead.call_state, lead.scheduled_at) == (Lead.Status.MANUAL, State.SKIPPED, None)
    assert "Calls stopped by boss" in lead.manual_reason


def test_stop_puts_the_lead_into_manual_handling_and_a_second_click_changes_nothing(api, vox, staff):
    lead = LeadFactory(site=SiteFactory(call_cadence="0, 5m, 30m"))
    post_result(api, dial(lead), "no_answer")

    assert lead_calls_stop(lead=lead, user=staff)
    assert not lead_calls_stop(lead=lead, user=staff) and not lead_call_skip_next(lead=lead, user=staff)
    lead.refresh_from_db()
    assert lead.status == Lead.Status.MANUAL and lead.call_state == State.SKIPPED
    pipeline.dispatch_due()
    assert len(vox.sessions) == 1


def test_a_call_under_way_cannot_be_skipped_or_stopped(vox, staff):
    lead = LeadFactory()
    dial(lead)

    assert not lead_call_skip_next(lead=lead, user=staff) and not lead_calls_stop(lead=lead, user=staff)


def test_the_lead_page_shows_the_plan_and_its_buttons_work(client, api, vox, staff):
    client.force_login(staff)
    lead = LeadFactory(site=SiteFactory(call_cadence="0, 5m, 30m"))
    post_result(api, dial(lead), "no_answer")
    page = client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()

    assert 'class="call-plan"' in page and f"/admin/leads/lead/{lead.pk}/calls/skip/" in page
    assert client.get(f"/admin/leads/lead/{lead.pk}/calls/stop/").status_code == 405
    assert client.post(f"/admin/leads/lead/{lead.pk}/calls/stop/").status_code == 302
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.MANUAL


def test_a_bad_cadence_is_refused_in_the_site_form_and_changes_nothing(client, staff):
    client.force_login(staff)
    site = SiteFactory(domain="shop.example", name="Shop")
    data = site_form_data(client, site, call_cadence="0, 5m, next dya 10:00")
    refused = client.post(f"/admin/leads/site/{site.pk}/change/", data)

    assert refused.status_code == 200 and "Item 3 (next dya 10:00) is not understood" in refused.content.decode()
    assert Site.objects.get(pk=site.pk).call_cadence == site.call_cadence
    accepted = client.post(f"/admin/leads/site/{site.pk}/change/", {**data, "call_cadence": "0, 1h, +2d 17:00"})
    assert accepted.status_code == 302 and Site.objects.get(pk=site.pk).call_cadence == "0, 1h, +2d 17:00"


# --- a lead closed while its call is due ----------------------------------------------------------
def test_a_lead_marked_handled_while_its_call_is_due_is_not_dialled(api, vox, staff):
    lead = LeadFactory(site=SiteFactory(call_cadence="0, 5m"))
    post_result(api, dial(lead), "no_answer")
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=timezone.now())  # due now

    assert handling.lead_mark_handled(lead=lead, user=staff, outcome="called back")
    pipeline.dispatch_due()
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    lead.refresh_from_db()
    assert lead.status == Lead.Status.HANDLED and len(vox.sessions) == 1


def test_a_lead_marked_handled_after_its_call_was_claimed_is_not_dialled(api, vox, staff):
    from telephony.services import call_step_handle

    lead = LeadFactory(site=SiteFactory(call_cadence="0, 5m"))
    post_result(api, dial(lead), "no_answer")
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=timezone.now())
    fence = pipeline.step_claim(step_name="call", lead_id=lead.pk)  # a worker has taken the call
    claimed = Lead.objects.select_related("site").get(pk=lead.pk)  # ...and read the lead while it was open

    assert handling.lead_mark_handled(lead=lead, user=staff, outcome="called back")
    outcome = call_step_handle(claimed)
    pipeline.step_outcome_apply(step_name="call", lead=claimed, outcome=outcome, fence=fence)
    lead.refresh_from_db()
    assert len(vox.sessions) == 1 and lead.call_attempts.count() == 1
    assert (lead.status, lead.call_state) == (Lead.Status.HANDLED, State.SKIPPED)


def test_a_result_arriving_after_the_lead_was_handled_schedules_no_call(api, vox, staff):
    lead = LeadFactory(site=SiteFactory(call_cadence="0, 5m"))
    attempt = dial(lead)
    assert handling.lead_mark_handled(lead=lead, user=staff, outcome="called back")
    post_result(api, attempt, "no_answer")

    lead.refresh_from_db()
    assert (lead.status, lead.call_state, lead.scheduled_at) == (Lead.Status.HANDLED, State.SKIPPED, None)


# --- voicemail per site -----------------------------------------------------------------------------
def test_the_sites_voicemail_action_reaches_the_scenario_in_its_settings_and_custom_data(api, vox, settings):
    import json

    from telephony import services
    from telephony.tokens import attempt_token

    site = SiteFactory(voicemail_action="recording", voicemail_url="https://cdn.example/vm.mp3")
    attempt = dial(LeadFactory(site=site))
    body = api.get("/api/v1/telephony/voximplant/callback/",
                   {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk)}).json()
    custom = json.loads(attempt.custom_data)

    assert (body["voicemail_action"], body["voicemail_url"]) == ("recording", "https://cdn.example/vm.mp3")
    assert custom["vm"] == "r" and custom["phone"] == attempt.phone  # compact: "m" message, "r" recording
    assert len(attempt.custom_data.encode()) <= services.CUSTOM_DATA_LIMIT
    hang_up = json.loads(dial(LeadFactory()).custom_data)
    assert "vm" not in hang_up and "caller_id" in hang_up  # hanging up is the scenario's default: nothing to carry


def test_the_lead_page_lists_its_text_messages(client, vox, staff):
    from messaging.models import Message

    client.force_login(staff)
    lead = LeadFactory()
    Message.objects.create(lead=lead, kind=Message.Kind.FIRST_MISS, phone=lead.phone, status=Message.Status.FAILED,
                           detail="VoxImplant: the account's balance is too low")
    page = client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()

    assert 'class="text-messages"' in page and "balance is too low" in page
