"""Manual handling in the admin: the queue, each action through the admin, the timeline, who may see what."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from leads.models import Lead, LeadEvent
from notifications.models import Notification, TelegramChat
from tests.factories import CallAttemptFactory, LeadFactory, SiteFactory

pytestmark = pytest.mark.django_db
QUEUE = "/admin/leads/manuallead/"
LEADS = "/admin/leads/lead/"
State = Lead.StepState


@pytest.fixture(autouse=True)
def _groups(groups):
    pass


def person(username: str, group: str | None) -> User:
    user = User.objects.create_user(username, password="pw-" + username, is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def manager(client):
    user = person("maria", "managers")
    client.force_login(user)
    return user


def manual_lead(reason="Automatic calling is not configured; call the lead by hand.", ago=10, **fields) -> Lead:
    return LeadFactory(status=Lead.Status.MANUAL, manual_reason=reason, call_state=State.FAILED,
                       manual_since=timezone.now() - timedelta(minutes=ago), **fields)


def act(client, url: str, action: str, leads: list[Lead], **fields):
    return client.post(url, {"action": action, "_selected_action": [lead.pk for lead in leads], "index": 0,
                             **fields}, follow=True)


def test_queue_lists_only_leads_in_manual_handling_newest_first_with_reason_wait_and_order(client, manager):
    manual_lead(ago=5, name="Newer", order_amount=Decimal("12500.00"), currency="RUB")
    manual_lead(ago=90, name="Older", reason="Bitrix24 refused")
    LeadFactory(name="Busy one")
    page = client.get(QUEUE).content.decode()

    assert page.index("Newer") < page.index("Older") and "Busy one" not in page
    assert "12,500.00 RUB" in page
    assert "Bitrix24 refused" in page and "1\xa0hour" in page


def test_queue_filters_by_reason_and_searches_by_phone(client, manager):
    manual_lead(phone="+79120000001", reason="The site's budget of 5 calls a day is used up.")
    manual_lead(phone="+79120000002", reason="Bitrix24 credentials are not valid: NO_AUTH_FOUND")

    by_reason = client.get(QUEUE, {"reason": "bitrix"}).content.decode()
    by_phone = client.get(QUEUE, {"q": "+79120000001"}).content.decode()
    assert "+79120000002" in by_reason and "+79120000001" not in by_reason
    assert "+79120000001" in by_phone and "+79120000002" not in by_phone


@pytest.mark.parametrize("url", [QUEUE, LEADS])
@pytest.mark.parametrize("typed", ["89124001000", "9124001000", "8 912 400-10-00", "+7 (912) 400-10-00"])
def test_a_number_typed_any_common_way_finds_the_lead(client, manager, url, typed):
    manual_lead(phone="+79124001000", name="Wanted")
    manual_lead(phone="+79124001001", name="Other")

    page = client.get(url, {"q": typed}).content.decode()

    assert "Wanted" in page and "Other" not in page


def test_a_name_is_still_searched_as_a_name(client, manager):
    manual_lead(phone="+79124001000", name="Wanted")
    manual_lead(phone="+79124001001", name="Other")

    page = client.get(LEADS, {"q": "Wanted"}).content.decode()

    assert "+79124001000" in page and "+79124001001" not in page


def test_queue_costs_the_same_queries_for_5_or_50_leads(client, manager, django_assert_max_num_queries):
    for _ in range(5):
        manual_lead()
    with django_assert_max_num_queries(12) as small:
        client.get(QUEUE)
    for _ in range(45):
        manual_lead()
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(QUEUE)


def test_take_assigns_the_lead_and_writes_the_timeline(client, manager):
    lead = manual_lead()
    act(client, QUEUE, "lead_take", [lead])
    act(client, QUEUE, "lead_take", [lead])  # twice: no second entry

    lead.refresh_from_db()
    assert lead.assigned_to == manager
    assert lead.events.filter(kind=LeadEvent.Kind.NOTE, actor=manager).count() == 1


def test_call_again_puts_the_call_back_in_the_pipeline(client, manager):
    lead = manual_lead()
    response = act(client, QUEUE, "lead_call_again", [lead])

    lead.refresh_from_db()
    assert (lead.status, lead.call_state, lead.call_ignore_hours) == (Lead.Status.IN_PROGRESS, State.PENDING, False)
    assert lead.scheduled_at <= timezone.now()
    assert lead.events.filter(step="call", actor=manager).exists()
    assert "1 lead" in response.content.decode()


def test_call_now_may_override_calling_hours(client, manager, settings):
    from leads import pipeline
    from demo.fakes.voximplant import FakeVoximplant

    lead = manual_lead(site=SiteFactory(calling_hours="mon 00:00-00:01; tue 00:00-00:01", time_zone="UTC"))
    act(client, QUEUE, "lead_call_now", [lead])
    with FakeVoximplant() as vox:
        settings.VOXIMPLANT_API_URL, settings.VOXIMPLANT_ACCOUNT_ID, settings.VOXIMPLANT_API_KEY = (
            vox.url, str(vox.account_id), vox.api_key)
        settings.VOXIMPLANT_RULE_ID, settings.VOXIMPLANT_CALLER_ID = "1", "74950000000"
        settings.VOXIMPLANT_CALLBACK_SECRET = "s"
        pipeline.step_run(step_name="call", lead_id=lead.pk)

        assert len(vox.sessions) == 1
    assert Lead.objects.get(pk=lead.pk).call_ignore_hours is False


def test_a_call_under_way_is_not_started_twice(client, manager):
    lead = LeadFactory(call_state=State.RUNNING)
    act(client, LEADS, "lead_call_again", [lead])

    assert not lead.events.filter(actor=manager).exists()


def test_retry_crm_reopens_a_failed_crm_step(client, manager):
    lead = manual_lead(crm_state=State.FAILED, crm_tries=8)
    act(client, QUEUE, "lead_retry_crm", [lead])

    lead.refresh_from_db()
    assert (lead.crm_state, lead.crm_tries) == (State.PENDING, 0)
    assert lead.events.filter(step="crm", actor=manager).exists()


def test_resend_card_queues_a_new_message_and_trusts_the_chat_again(client, manager):
    lead = manual_lead()
    chat = TelegramChat.objects.create(chat_id="-1", is_broken=True, broken_reason="bot was kicked")
    Notification.objects.create(lead=lead, chat=chat, kind="card", status="failed", message_id=5)
    act(client, QUEUE, "lead_resend_notification", [lead])

    card = Notification.objects.get(lead=lead, kind="card")
    assert (card.status, card.message_id) == ("pending", None)
    assert TelegramChat.objects.get(pk=chat.pk).is_broken is False
    assert lead.events.filter(step="notify", actor=manager).exists()


def test_mark_handled_closes_the_lead_with_outcome_and_comment(client, manager):
    lead = manual_lead()
    act(client, QUEUE, "lead_mark_handled", [lead], outcome="order placed", comment="paid by card")
    act(client, QUEUE, "lead_mark_handled", [lead], outcome="other")  # gone from the queue: nothing happens

    lead.refresh_from_db()
    assert (lead.status, lead.assigned_to) == (Lead.Status.HANDLED, manager) and lead.closed_at
    event = lead.events.get(kind=LeadEvent.Kind.STATUS)
    assert "order placed" in event.message and "paid by card" in event.message and event.actor == manager


@pytest.mark.parametrize("action", ["lead_mark_handled", "lead_call_now"])
def test_an_action_that_takes_leads_out_of_the_queue_counts_them_right(client, manager, action):
    leads = [manual_lead(), manual_lead()]
    page = act(client, QUEUE, action, leads, outcome="order placed").content.decode()

    assert "2 leads:" in page
    assert "left as" not in page and "-1 lead" not in page


def test_mark_spam_closes_the_lead_and_cancels_its_scheduled_call(client, manager):
    lead = LeadFactory(status=Lead.Status.SCHEDULED, call_state=State.PENDING,
                       scheduled_at=timezone.now() + timedelta(hours=1))
    act(client, LEADS, "lead_mark_spam", [lead], comment="bot")

    lead.refresh_from_db()
    assert (lead.status, lead.call_state, lead.scheduled_at) == (Lead.Status.SPAM, State.SKIPPED, None)


def test_actions_work_on_a_selection(client, manager):
    leads = [manual_lead() for _ in range(3)]
    act(client, QUEUE, "lead_mark_spam", leads)

    assert set(Lead.objects.values_list("status", flat=True)) == {Lead.Status.SPAM}


def test_lead_page_shows_timeline_attempts_notifications_and_raw_request(client, manager):

    lead = manual_lead(raw_request={"data": {"phone": "8 912 000"}})
    CallAttemptFactory(lead=lead, status="finished", outcome="busy",
                       record_url="https://records.example/1.mp3")
    Notification.objects.create(lead=lead, chat=TelegramChat.objects.create(chat_id="-9"), kind="alert",
                                status="sent")
    LeadEvent.objects.create(lead=lead, kind="manual", message="number is not valid")
    page = client.get(f"{LEADS}{lead.pk}/change/").content.decode()

    assert "number is not valid" in page and "https://records.example/1.mp3" in page
    assert "manual-handling alert" in page and "8 912 000" in page


# --- who may see what -------------------------------------------------------------------------
def test_anonymous_people_are_sent_to_the_login(client):
    for url in (QUEUE, LEADS):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_outside_the_groups_see_no_lead(client):
    client.force_login(person("guest", None))

    assert client.get(LEADS).status_code == 403 and client.get(QUEUE).status_code == 403


def test_managers_handle_leads_but_do_not_edit_sites(client, manager):
    site = SiteFactory()

    assert client.get(QUEUE).status_code == 200
    assert client.get(f"/admin/leads/site/{site.pk}/change/").status_code == 200  # view only
    response = client.post(f"/admin/leads/site/{site.pk}/change/", {"domain": "x.example", "name": "x"})
    assert response.status_code == 403


def test_administrators_edit_sites_and_see_the_bitrix24_connection(client):
    client.force_login(person("boss", "administrators"))

    assert client.get("/admin/leads/site/add/").status_code == 200
    assert client.get("/admin/leads/bitrixauth/").status_code == 200


def test_people_without_the_handling_permission_get_no_actions(client):
    viewer = person("viewer", None)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_lead"))
    client.force_login(viewer)
    lead = manual_lead()
    act(client, LEADS, "lead_mark_spam", [lead])

    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.MANUAL


def test_integrations_page_says_what_is_connected_and_the_last_error_never_the_secret(client, settings):

    settings.BITRIX_WEBHOOK_URL = "https://shop.bitrix24.ru/rest/1/very-secret-code/"
    settings.VOXIMPLANT_ACCOUNT_ID, settings.VOXIMPLANT_API_KEY = "1", "vox-secret-key"
    settings.VOXIMPLANT_RULE_ID, settings.VOXIMPLANT_CALLER_ID = "5", "74950000000"
    settings.TELEGRAM_BOT_TOKEN = "123:tg-secret"
    CallAttemptFactory(phone="+79120000000", status="failed",
                       detail="StartScenarios: Authorization failed (code 100)")
    TelegramChat.objects.create(chat_id="-77", is_broken=True, broken_reason="Forbidden: bot was kicked")
    client.force_login(person("boss", "administrators"))
    page = client.get("/admin/integrations/").content.decode()

    assert "shop.bitrix24.ru" in page and "Authorization failed (code 100)" in page and "bot was kicked" in page
    assert not any(secret in page for secret in ("very-secret-code", "vox-secret-key", "tg-secret"))


def test_integrations_page_shows_an_outdated_voxengine_scenario(client, settings):

    settings.VOXIMPLANT_ACCOUNT_ID, settings.VOXIMPLANT_API_KEY = "1", "vox-secret-key"
    CallAttemptFactory(phone="+79120000000", status="finished",
                       outcome="human", scenario_version=None, finished_at=timezone.now())
    client.force_login(person("boss", "administrators"))
    page = client.get("/admin/integrations/").content.decode()

    assert "sends no version" in page and "Upload telephony/voxengine/leadcaller.js again" in page


def test_integrations_page_is_for_administrators(client, manager):
    assert client.get("/admin/integrations/").status_code == 403


def test_lead_lists_never_count_the_whole_table(client, manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    manual_lead()
    for url in (LEADS, QUEUE):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
        assert counts and all("LIMIT" in sql.upper() for sql in counts), counts
