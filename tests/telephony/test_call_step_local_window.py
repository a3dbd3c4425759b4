"""The call step and the retry routing against the lead-local window, with the fake VoxImplant; the
admin's view of a waiting lead; a site's holiday choice saved from the admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from leads import pipeline
from leads.models import Lead, LeadEvent, Site
from telephony import services
from telephony.models import CallAttempt
from telephony.policy import call_settings_for
from tests.admin_forms import site_form_data
from tests.factories import LeadFactory, SiteFactory

pytestmark = pytest.mark.django_db
VLADIVOSTOK_PHONE, VLADIVOSTOK = "+74232123456", ZoneInfo("Asia/Vladivostok")


def run_call(lead: Lead) -> Lead:
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    lead.refresh_from_db()
    return lead


def starts(vox) -> list:
    return [r for r in vox.requests if r.cmd == "StartScenarios"]


def a_later_hour_there(settings) -> int:
    """Make LEAD_LOCAL_HOURS one hour that begins two hours from now in Vladivostok; returns that hour."""
    hour = (timezone.now().astimezone(VLADIVOSTOK).hour + 2) % 24
    settings.LEAD_LOCAL_HOURS = f"{hour:02d}:00-{hour + 1:02d}:00"
    return hour


def test_the_call_step_does_not_dial_outside_the_leads_local_window(vox, settings):
    hour = a_later_hour_there(settings)  # the site's own hours are the whole day (the vox fixture)

    lead = run_call(LeadFactory(phone=VLADIVOSTOK_PHONE, ref="vl"))

    assert starts(vox) == [] and not lead.call_attempts.exists()
    assert lead.status == Lead.Status.SCHEDULED and lead.call_state == Lead.StepState.PENDING
    local = lead.scheduled_at.astimezone(VLADIVOSTOK)
    assert local.hour == hour and local.minute < settings.WINDOW_RAMP_MINUTES
    event = lead.events.get(kind=LeadEvent.Kind.STEP_LATER)
    assert "outside the lead's local hours" in event.message and "in Asia/Vladivostok" in event.message


def test_once_the_leads_window_is_open_the_waiting_lead_is_dialled(vox, settings):
    a_later_hour_there(settings)
    lead = run_call(LeadFactory(phone=VLADIVOSTOK_PHONE, ref="vl"))
    settings.LEAD_LOCAL_HOURS = "00:00-24:00"  # as if its hour had come
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=timezone.now())

    lead = run_call(lead)

    assert len(starts(vox)) == 1 and lead.call_attempts.get().status == CallAttempt.Status.STARTED


def test_a_holiday_of_the_numbers_country_holds_the_call(vox, settings, monkeypatch):
    settings.SKIP_HOLIDAYS = True
    today = timezone.now().astimezone(VLADIVOSTOK).date()  # a holiday today, in the lead's own calendar
    monkeypatch.setattr("telephony.call_window.public_holiday",
                        lambda country, day: "Test Day" if (country, day) == ("RU", today) else None)

    lead = run_call(LeadFactory(phone=VLADIVOSTOK_PHONE, ref="vl"))

    assert starts(vox) == [] and lead.status == Lead.Status.SCHEDULED
    assert "a public holiday in RU: Test Day" in lead.events.get(kind=LeadEvent.Kind.STEP_LATER).message
    assert lead.scheduled_at.astimezone(VLADIVOSTOK).date() == today + timedelta(days=1)


def test_a_retry_that_would_fall_in_the_leads_night_waits_for_its_morning(settings):
    settings.CALLING_HOURS, settings.LEAD_LOCAL_HOURS, settings.SKIP_HOLIDAYS = "mon-sun 00:00-24:00", "08:00-21:00", False
    lead = LeadFactory(phone=VLADIVOSTOK_PHONE, ref="vl", site=SiteFactory(call_cadence="0, 20m, 20m"))
    now = datetime(2027, 6, 15, 10, 45, tzinfo=UTC)  # 20:45 in Vladivostok; the next call is due in 20 minutes

    outcome = services.route_outcome(lead, "no_answer", "", call_settings_for(lead.site), now)

    opening = datetime(2027, 6, 16, 8, 0, tzinfo=VLADIVOSTOK)
    assert isinstance(outcome, pipeline.Later)
    assert opening <= outcome.at < opening + timedelta(minutes=settings.WINDOW_RAMP_MINUTES)


def test_the_admin_shows_the_leads_zone_and_why_its_call_waits(vox, settings, client):
    a_later_hour_there(settings)
    lead = run_call(LeadFactory(phone=VLADIVOSTOK_PHONE, ref="vl"))
    client.force_login(User.objects.create_superuser("root", password="x"))

    page = client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()

    clock = timezone.now().astimezone(VLADIVOSTOK)
    assert "in Asia/Vladivostok (from the number)" in page
    assert "outside the lead&#x27;s local hours" in page and f"{clock:%H}:" in page


def test_a_sites_holiday_choice_is_saved_from_the_admin(client):
    site = SiteFactory(domain="shop.example")
    client.force_login(User.objects.create_superuser("root", password="x"))
    data = site_form_data(client, site, skip_holidays="False")

    response = client.post(f"/admin/leads/site/{site.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    site = Site.objects.get(pk=site.pk)
    assert site.skip_holidays is False and call_settings_for(site).skip_holidays is False
