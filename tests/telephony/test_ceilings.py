"""What anyone who can post a lead can spend: a site's daily budget and the hourly ceiling stop dials,
the leads they hold back go to manual handling with the reason, one Telegram alert per period says so,
and /healthz lists the ceiling while it holds. Leads from unknown sites are stored, never dialled."""

from __future__ import annotations

import pytest

from leads import pipeline
from leads.models import Lead
from notifications.models import Notification
from telephony.models import CeilingHit
from tests.factories import LeadFactory, SiteFactory
from tests.notifications.conftest import drain

pytestmark = pytest.mark.django_db


def run_call(lead: Lead) -> Lead:
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    lead.refresh_from_db()
    return lead


def dials(vox) -> int:
    return sum(1 for r in vox.requests if r.cmd == "StartScenarios")


def test_a_sites_budget_stops_dials_and_alerts_once_for_all_the_leads_it_holds_back(vox, tg, settings):
    site = SiteFactory(call_daily_budget=2)
    leads = [run_call(LeadFactory(site=site)) for _ in range(5)]

    assert dials(vox) == 2
    held = [lead for lead in leads if lead.status == Lead.Status.MANUAL]
    assert len(held) == 3 and all("budget of 2 calls a day" in lead.manual_reason for lead in held)
    hit = CeilingHit.objects.get()
    assert (hit.kind, hit.site, hit.limit, hit.refused) == ("site_daily", site, 2, 3)
    alerts = Notification.objects.filter(kind=Notification.Kind.ALERT)
    assert alerts.count() == 1 and alerts.get().lead is None
    drain()
    texts = [message.plain for message in tg.messages(tg.chat_id)]
    assert sum("budget of 2 calls a day" in text for text in texts) == 1
    assert any(site.domain in text and "raise the site's budget" in text for text in texts)


def test_the_hourly_ceiling_holds_every_sites_dials_and_shows_on_healthz(vox, tg, settings, client):
    settings.CALL_HOURLY_CEILING = 2
    leads = [run_call(LeadFactory(site=SiteFactory())) for _ in range(4)]

    assert dials(vox) == 2
    assert [lead.status for lead in leads].count(Lead.Status.MANUAL) == 2
    assert Notification.objects.filter(kind=Notification.Kind.ALERT).count() == 1
    health = client.get("/healthz")
    assert health.status_code == 200  # a ceiling reached is news, not an outage
    (ceiling,) = health.json()["details"]["ceilings"]
    assert (ceiling["ceiling"], ceiling["site"], ceiling["limit"], ceiling["refused"]) == ("hourly", None, 2, 2)


def test_a_lead_held_back_by_a_ceiling_can_be_called_by_a_person_later(vox, settings):
    from django.contrib.auth.models import User

    from leads.handling import lead_call_again

    site = SiteFactory(call_daily_budget=1)
    run_call(LeadFactory(site=site))
    held = run_call(LeadFactory(site=site))
    site.call_daily_budget = 5
    site.save()

    assert lead_call_again(lead=held, user=User.objects.create_user("ops"))
    assert run_call(held).status == Lead.Status.IN_PROGRESS and dials(vox) == 2


def test_a_premium_rate_number_goes_to_a_person_and_is_never_dialled(vox):
    lead = run_call(LeadFactory(phone="+78091234567"))

    assert lead.status == Lead.Status.MANUAL and "premium-rate" in lead.manual_reason
    assert dials(vox) == 0


def test_a_lead_from_an_unknown_site_is_stored_for_a_person_and_never_dialled(vox, tg, settings):
    settings.UNKNOWN_SITES = "store"
    lead = run_call(LeadFactory(site=SiteFactory(domain="unknown.invalid", is_default=True), site_unknown=True))

    assert lead.status == Lead.Status.MANUAL and "UNKNOWN_SITES=store" in lead.manual_reason
    assert dials(vox) == 0
    # No alert per lead: anyone can post from an unknown site. The seller's card says it instead.
    assert not Notification.objects.filter(kind=Notification.Kind.ALERT).exists()


def test_with_unknown_sites_accepted_such_a_lead_is_dialled(vox, settings):
    settings.UNKNOWN_SITES = "accept"
    lead = run_call(LeadFactory(site=SiteFactory(domain="unknown.invalid", is_default=True), site_unknown=True))

    assert lead.status == Lead.Status.IN_PROGRESS and dials(vox) == 1
