"""The manager's lead list and lead page: the columns that matter, the buttons, the timeline in plain words."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.models import Lead, LeadEvent
from leads.services import lead_event_add
from leads.texts import text
from tests.factories import CallAttemptFactory, LeadFactory, SiteFactory

pytestmark = pytest.mark.django_db
LEADS = "/admin/leads/lead/"
State = Lead.StepState


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return manager


def page_of(client, lead: Lead, **headers) -> str:
    return client.get(f"{LEADS}{lead.pk}/change/", **headers).content.decode()


def test_the_list_shows_order_last_outcome_next_call_and_calls_not_step_states(client, as_manager):
    lead = LeadFactory(order_amount=Decimal("4990.00"), currency="RUB", last_call_outcome="no_answer",
                       status=Lead.Status.SCHEDULED, call_state=State.PENDING,
                       scheduled_at=timezone.now() + timedelta(minutes=20))
    for number in (1, 2):
        CallAttemptFactory(lead=lead, number=number, phone=lead.phone, status="finished", outcome="no_answer")
    page = client.get(LEADS).content.decode()

    heads = re.findall(r'<th scope="col"[^>]*>.*?<(?:a|span)[^>]*>([^<]+)<', page, re.S)
    assert {"Order", "Last call", "Next call", "Calls"} <= {head.strip() for head in heads}
    assert "Crm state" not in page and "Call state" not in page
    row = re.search(r'<tr>.*?</tr>', page.split("<tbody>")[1], re.S).group(0)
    assert "4,990.00 RUB" in row and "no answer" in row and '<td class="field-tries">2</td>' in row
    assert timezone.localtime(lead.scheduled_at).strftime("%Y-%m-%d %H:%M") in row


def test_the_timeline_is_at_the_top_with_seconds_in_plain_words(client, as_manager):
    lead = LeadFactory()
    event = lead_event_add(lead=lead, kind=LeadEvent.Kind.CALL_RESULT, step="call",
                           message=text("call_result_detail", outcome="human", detail="amd:HUMAN"))
    LeadEvent.objects.create(lead=lead, kind="call_result", message="voicemail: AMD VOICEMAIL")  # an old row
    page = page_of(client, lead)

    timeline = page.index('id="lead-timeline"')
    assert timeline < page.index('id="lead_form"')
    assert "answered by a person" in page and "AMD" not in page.split('id="lead_form"')[0]
    assert timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S") in page


def test_the_timeline_reads_in_russian_for_a_russian_manager(client, as_manager):
    lead = LeadFactory()
    lead_event_add(lead=lead, kind=LeadEvent.Kind.NOTE, message=text("taken", user="maria"))
    lead_event_add(lead=lead, kind=LeadEvent.Kind.STEP_FAILED, step="call",  # the old way: an English sentence
                   message="Not reached after 23 calls (last: no answer).")
    page = page_of(client, lead, HTTP_ACCEPT_LANGUAGE="ru")

    assert "взял maria" in page and "Не дозвонились после 23 звонков (последний: нет ответа)." in page


def test_take_and_handled_buttons_act_through_the_handling_services(client, as_manager):
    lead = LeadFactory(status=Lead.Status.MANUAL, manual_since=timezone.now())
    assert 'id="lead-take"' in page_of(client, lead)

    client.post(f"{LEADS}{lead.pk}/do/take/")
    response = client.post(f"{LEADS}{lead.pk}/do/handled/", {"outcome": "order placed", "comment": "paid"},
                           follow=True)

    lead.refresh_from_db()
    assert (lead.assigned_to, lead.status) == (as_manager, Lead.Status.HANDLED)
    assert "Marked as handled." in response.content.decode()
    assert lead.events.filter(code="handled_comment", params={"outcome": "order placed", "comment": "paid"}).exists()


def test_handled_without_an_outcome_changes_nothing(client, as_manager):
    lead = LeadFactory(status=Lead.Status.MANUAL, manual_since=timezone.now())
    response = client.post(f"{LEADS}{lead.pk}/do/handled/", {"outcome": "whatever"}, follow=True)

    assert response.status_code == 200 and "Choose an outcome." in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.MANUAL


def test_call_now_asks_for_a_call_inside_the_window(client, as_manager):
    lead = LeadFactory(site=SiteFactory(calling_hours="mon-sun 00:00-23:59", time_zone="UTC"),
                       status=Lead.Status.MANUAL, manual_since=timezone.now(), call_state=State.FAILED)
    response = client.post(f"{LEADS}{lead.pk}/do/call/", follow=True)

    lead.refresh_from_db()
    assert (lead.status, lead.call_state, lead.call_ignore_hours) == (Lead.Status.IN_PROGRESS, State.PENDING, False)
    assert response.status_code == 200


def test_call_now_never_dials_a_number_on_the_do_not_call_list(client, as_manager):
    from dnc.services import dnc_add

    lead = LeadFactory(status=Lead.Status.MANUAL, manual_since=timezone.now(), call_state=State.FAILED)
    dnc_add(phone=lead.phone, source="admin")
    response = client.post(f"{LEADS}{lead.pk}/do/call/", follow=True)

    lead.refresh_from_db()
    assert (lead.status, lead.call_state) == (Lead.Status.MANUAL, State.FAILED)
    assert "do-not-call list" in response.content.decode()


def test_the_buttons_are_for_people_who_may_handle_leads(client, groups):
    from django.contrib.auth.models import Group, User

    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(*Group.objects.get(name="managers").permissions.exclude(codename="handle_lead"))
    client.force_login(viewer)
    lead = LeadFactory(status=Lead.Status.MANUAL, manual_since=timezone.now())

    assert 'id="lead-take"' not in page_of(client, lead)
    assert client.post(f"{LEADS}{lead.pk}/do/take/").status_code == 403
    assert Lead.objects.get(pk=lead.pk).assigned_to is None


def test_a_get_never_acts(client, as_manager):
    lead = LeadFactory(status=Lead.Status.MANUAL, manual_since=timezone.now())

    assert client.get(f"{LEADS}{lead.pk}/do/take/").status_code == 405
    assert Lead.objects.get(pk=lead.pk).assigned_to is None


def test_the_bitrix24_lead_id_links_to_the_portal(client, as_manager, settings):
    settings.BITRIX_WEBHOOK_URL = "https://shop.bitrix24.ru/rest/1/secret/"
    lead = LeadFactory(bitrix_lead_id=4512)

    assert '<a href="https://shop.bitrix24.ru/crm/lead/details/4512/"' in page_of(client, lead)


def test_the_menu_shows_how_many_leads_need_attention(client, as_manager):
    for _ in range(3):
        LeadFactory(status=Lead.Status.MANUAL, manual_since=timezone.now())
    LeadFactory()

    assert "Needs attention (3)" in client.get("/admin/").content.decode()
