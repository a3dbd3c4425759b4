"""Telegram delivery against the fake Bot API: cards, edits, alerts, Telegram's refusals, bursts."""

from __future__ import annotations

import pytest
from django.utils import timezone

from leads import pipeline, services
from leads.models import Lead
from leads.phones import phone_mask
from notifications import messages
from notifications.models import Notification, TelegramChat
from notifications.services import notification_deliver
from tests.factories import CallAttemptFactory, LeadFactory, SiteFactory
from tests.notifications.conftest import drain

pytestmark = pytest.mark.django_db
Status, Kind = Notification.Status, Notification.Kind


def notify(lead: Lead) -> Notification:
    pipeline.step_run(step_name="notify", lead_id=lead.pk)
    drain()
    return Notification.objects.get(lead=lead, kind=Kind.CARD)


def test_the_card_is_sent_when_the_lead_is_accepted(tg, settings):
    settings.PUBLIC_BASE_URL = "https://leads.example.com"
    lead = LeadFactory(name="Анна", phone="+79123456789")
    card = notify(lead)

    [message] = tg.messages(tg.chat_id)
    assert card.status == Status.SENT and card.message_id == message.message_id
    assert "Анна" in message.plain and "+7 ••• •••-67-89" in message.plain and message.parse_mode == "HTML"
    assert "+79123456789" not in message.plain
    buttons = [b["url"] for row in message.reply_markup["inline_keyboard"] for b in row]
    assert buttons == [f"https://leads.example.com/admin/leads/lead/{lead.pk}/change/"]
    assert Lead.objects.get(pk=lead.pk).notify_state == Lead.StepState.DONE


def test_a_button_telegram_refuses_after_all_costs_the_button_not_the_card(tg, settings):
    settings.PUBLIC_BASE_URL = "https://leads.example.com"
    tg.fail_next("sendMessage", "button_url_invalid")
    lead = LeadFactory()
    card = notify(lead)

    [message] = tg.messages(tg.chat_id)
    assert card.status == Status.SENT and message.reply_markup is None and "New lead" in message.plain
    lead.refresh_from_db()
    assert lead.notify_state == Lead.StepState.DONE and lead.status != Lead.Status.MANUAL


@pytest.mark.parametrize("base_url", ["http://localhost:8000", "http://leadcaller:8000", "http://10.0.0.5:8000"])
def test_a_card_from_a_server_without_a_public_address_reaches_the_seller(tg, settings, base_url):
    """Telegram refuses a button on localhost or a host without a dot: the card then carries none,
    instead of being refused and sending its lead to manual handling."""
    settings.PUBLIC_BASE_URL = base_url
    lead = LeadFactory(phone="+79123456789")
    card = notify(lead)

    [message] = tg.messages(tg.chat_id)
    assert card.status == Status.SENT and message.reply_markup is None
    assert f"{base_url}/admin/leads/lead/{lead.pk}/change/" in message.plain  # as text, to copy
    assert [e["type"] for e in message.entities if e["type"] == "text_link"] == []
    lead.refresh_from_db()
    assert lead.notify_state == Lead.StepState.DONE and lead.status != Lead.Status.MANUAL


def test_the_card_is_edited_in_place_as_the_lead_moves_on_and_manual_handling_sends_one_alert(tg):
    lead = LeadFactory()
    notify(lead)
    pipeline.step_run(step_name="call", lead_id=lead.pk)  # no VoxImplant: manual handling
    drain()

    card, alert = tg.messages(tg.chat_id)
    assert "Manual handling" in card.plain and card.edits and "Waiting for the call" in card.edits[-1].plain
    assert "A lead needs a person" in alert.plain and "not configured" in alert.plain
    services.lead_to_manual(lead=Lead.objects.get(pk=lead.pk), reason="again")  # already manual: no second alert
    drain()
    assert Notification.objects.filter(lead=lead, kind=Kind.ALERT).count() == 1


def test_alerts_go_to_the_alerts_chat_when_one_is_set(tg, settings):
    tg.add_chat(-2002, "group", title="Alerts")
    settings.TELEGRAM_ALERT_CHAT_ID = "-2002"
    lead = LeadFactory()
    services.lead_to_manual(lead=lead, reason="Bitrix24 credentials are not valid")
    drain()

    [alert] = tg.messages(-2002)
    assert "Bitrix24 credentials are not valid" in alert.plain and tg.messages(tg.chat_id) == []


def test_messages_use_the_chats_language(tg):
    TelegramChat.objects.create(chat_id=str(tg.chat_id), language="ru")
    notify(LeadFactory())

    assert "Новый лид" in tg.messages(tg.chat_id)[0].plain


def test_429_is_waited_out_and_the_card_still_arrives(tg):
    tg.fail_next("sendMessage", "http429", retry_after=1)
    card = notify(LeadFactory())

    assert card.status == Status.SENT and len(tg.messages(tg.chat_id)) == 1
    assert [r.fault for r in tg.requests if r.method == "sendMessage"] == ["http429", None]


@pytest.mark.parametrize("fault", ["http5xx", "drop", "timeout"])
def test_server_errors_and_timeouts_are_retried(tg, fault, monkeypatch):
    from notifications import telegram

    monkeypatch.setattr(telegram, "TIMEOUT", (1.0, 0.3))
    monkeypatch.setattr("notifications.services.random.uniform", lambda a, b: 0.1)
    tg.fail_next("sendMessage", fault)
    card = notify(LeadFactory())

    assert card.status == Status.SENT and card.attempts == 0  # a success starts the count of tries again
    assert [r.fault for r in tg.requests if r.method == "sendMessage"] == [fault, None]
    assert len(tg.messages(tg.chat_id)) == (2 if fault == "timeout" else 1)  # a lost answer may repeat a card


@pytest.mark.parametrize("fault", ["http5xx", "refused", "timeout"])
def test_tries_telegram_never_received_leave_the_groups_share_of_its_limits(tg, settings, monkeypatch, fault):
    """A refused connection or a 5xx reached no chat: while Telegram is down, a card tries at its own
    pace and the group's share (6 at once, then 13 a minute) is whole when it is back. A timeout may have
    been sent: it counts."""
    from leads import ratelimit
    from notifications import services as notification_services
    from notifications import telegram
    from tests.drills.servers import spare_port

    monkeypatch.setattr(telegram, "TIMEOUT", (1.0, 0.3))
    monkeypatch.setattr("notifications.services.random.uniform", lambda a, b: 0.0)  # each retry is due at once
    if fault == "refused":
        settings.TELEGRAM_API_URL = f"http://127.0.0.1:{spare_port()}"
    else:
        tg.fail_next("*", fault, times=8)
    lead = LeadFactory()
    pipeline.step_run(step_name="notify", lead_id=lead.pk)
    card = Notification.objects.get(lead=lead, kind=Kind.CARD)
    for _ in range(8):
        Notification.objects.filter(pk=card.pk, status=Status.PENDING).update(due_at=timezone.now())
        notification_deliver(card.pk)
    card.refresh_from_db()
    group_turns_left = sum(ratelimit.take(f"tg-group:{tg.chat_id}", rate=notification_services.GROUP_RATE,
                                          capacity=notification_services.GROUP_BURST) == 0.0 for _ in range(8))

    assert card.status == Status.PENDING and card.attempts == (8 if fault == "refused" else len(tg.requests))
    if fault == "timeout":  # each try may have reached the chat: its turns ran out and the rest waited
        assert 0 < card.attempts < 8 and card.due_at > timezone.now()
        assert group_turns_left == notification_services.GROUP_BURST - card.attempts
    else:
        assert card.attempts == 8 and group_turns_left == notification_services.GROUP_BURST


@pytest.mark.parametrize("breakage", ["not_found", "blocked", "kicked"])
def test_a_broken_chat_is_marked_and_the_lead_goes_to_a_person_through_the_alerts_chat(tg, settings, breakage):
    tg.add_chat(-3003, "group", title="Alerts")
    settings.TELEGRAM_ALERT_CHAT_ID = "-3003"
    site = SiteFactory(telegram_chat=TelegramChat.objects.create(chat_id="-4004"))
    if breakage != "not_found":
        tg.add_chat(-4004, "group")
        tg.block_chat(-4004, "Forbidden: bot was kicked from the group chat" if breakage == "kicked" else None)
    lead = LeadFactory(site=site)
    card = notify(lead)

    chat = TelegramChat.objects.get(chat_id="-4004")
    assert card.status == Status.FAILED and chat.is_broken and chat.broken_reason
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.MANUAL
    [alert] = tg.messages(-3003)
    assert "could not be told in Telegram" in alert.plain


def test_a_group_upgraded_to_a_supergroup_is_followed(tg, settings):
    tg.add_chat(-5005, "group")
    tg.migrate_chat(-5005, -1005005)
    site = SiteFactory(telegram_chat=TelegramChat.objects.create(chat_id="-5005"))
    card = notify(LeadFactory(site=site))

    assert card.status == Status.SENT and len(tg.messages(-1005005)) == 1
    assert TelegramChat.objects.get(pk=site.telegram_chat_id).chat_id == "-1005005"


def test_markup_telegram_cannot_parse_is_resent_as_plain_text(tg, monkeypatch):
    monkeypatch.setattr(messages, "card", lambda lead: ("<b>broken <i>markup</b>", []))
    card = notify(LeadFactory())

    [message] = tg.messages(tg.chat_id)
    assert card.status == Status.SENT and message.parse_mode is None and message.plain == "broken markup"


def test_a_card_that_can_no_longer_be_edited_is_replaced_by_a_new_message(tg):
    lead = LeadFactory()
    notify(lead)
    tg.advance(49 * 3600)  # past Telegram's edit window
    services.lead_to_manual(lead=lead, reason="number is not valid")
    drain()

    messages_ = tg.messages(tg.chat_id)
    card = Notification.objects.get(lead=lead, kind=Kind.CARD)
    assert card.message_id == messages_[-1].message_id and "Manual handling" in messages_[-1].plain


def test_a_burst_of_100_leads_for_one_chat_provokes_no_429_and_loses_none(tg):
    leads = [LeadFactory(name=f"Lead {i}") for i in range(100)]
    for lead in leads:
        pipeline.step_run(step_name="notify", lead_id=lead.pk)
    drain(timeout=60)

    shown = "\n".join(m.plain for m in tg.messages(tg.chat_id))
    assert tg.too_many_requests == 0
    assert all(phone_mask(lead.phone) in shown for lead in leads)
    assert len(tg.messages(tg.chat_id)) <= 10
    assert not Notification.objects.exclude(status__in=[Status.SENT, Status.DIGESTED]).exists()


def test_leads_whose_digest_telegram_refused_go_to_a_person(tg):
    leads = [LeadFactory(name=f"Lead {i}") for i in range(8)]
    for lead in leads:
        pipeline.step_run(step_name="notify", lead_id=lead.pk)
    for card in Notification.objects.filter(kind=Kind.CARD).order_by("pk"):
        notification_deliver(card.pk)  # the chat's first turns go to cards, the rest wait in a digest
    tg.block_chat(tg.chat_id)
    drain()

    digested = Notification.objects.filter(kind=Kind.CARD, status=Status.DIGESTED)
    assert digested.exists() and {card.digest.status for card in digested} == {Status.FAILED}
    assert {Lead.objects.get(pk=card.lead_id).status for card in digested} == {Lead.Status.MANUAL}


def test_without_a_bot_token_nothing_is_queued(settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    lead = LeadFactory()
    pipeline.step_run(step_name="notify", lead_id=lead.pk)

    assert Lead.objects.get(pk=lead.pk).notify_state == Lead.StepState.SKIPPED
    assert not Notification.objects.exists()


def test_a_partners_own_chat_wins_over_the_sites(tg):
    from tests.factories import PartnerFactory

    tg.add_chat(-6006, "group")
    partner = PartnerFactory(telegram_chat=TelegramChat.objects.create(chat_id="-6006"))
    notify(LeadFactory(partner=partner))

    assert len(tg.messages(-6006)) == 1 and tg.messages(tg.chat_id) == []


def test_the_sweeper_resends_a_notification_whose_message_was_lost(tg, monkeypatch):
    from datetime import timedelta

    from celery import current_app
    from django.utils import timezone

    from notifications.services import deliver_due

    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args=(), **kw: sent.append((name, args)))
    lost = Notification.objects.create(lead=LeadFactory(), chat=TelegramChat.objects.create(chat_id=str(tg.chat_id)),
                                       kind=Kind.ALERT, reason="x", due_at=timezone.now() - timedelta(minutes=5))
    fresh = Notification.objects.create(lead=LeadFactory(), chat=lost.chat, kind=Kind.ALERT, reason="y",
                                        due_at=timezone.now())

    assert deliver_due() == 1
    assert sent == [("notifications.tasks.deliver", (lost.pk,))] and fresh.pk not in [a[0] for _, a in sent]


def test_telegram_being_down_holds_back_no_other_step(tg):
    tg.fail_next("*", "http5xx", times=100)
    lead = LeadFactory()
    for step in ("notify", "call", "crm"):
        pipeline.step_run(step_name=step, lead_id=lead.pk)

    lead.refresh_from_db()
    assert (lead.notify_state, lead.call_state, lead.crm_state) == ("done", "failed", "skipped")
    assert lead.status == Lead.Status.MANUAL


def test_the_needs_a_person_alert_is_edited_when_someone_takes_and_then_handles_the_lead(tg, django_user_model):
    from leads import handling

    maria = django_user_model.objects.create_user("maria", password="x", is_staff=True)
    lead = LeadFactory()
    services.lead_to_manual(lead=lead, reason="Automatic calling is not configured; call the lead by hand.")
    drain()
    [alert] = tg.messages(tg.chat_id)
    assert "A lead needs a person" in alert.plain and "maria" not in alert.plain

    handling.lead_take(lead=Lead.objects.get(pk=lead.pk), user=maria)
    drain()
    [alert] = tg.messages(tg.chat_id)
    assert "taken by maria" in alert.plain and len(alert.edits) == 1

    handling.lead_mark_handled(lead=Lead.objects.get(pk=lead.pk), user=maria, outcome="order placed")
    drain()
    [alert] = tg.messages(tg.chat_id)  # edited in place, no new message
    assert "handled by a person (maria)" in alert.plain and "taken by" in alert.edits[-1].plain
    assert Notification.objects.filter(lead=lead, kind=Kind.ALERT).count() == 1


def test_a_card_is_never_edited_with_what_it_already_shows(tg):
    lead = LeadFactory(name="<b>Ann</b> & Co")  # markup in the name: escaped, still the same text each time
    card = notify(lead)
    sent_before = len(tg.requests)
    services.lead_event_add(lead=lead, kind="note", message="nothing the card shows")
    from notifications.services import card_refresh

    card_refresh(lead=lead)  # the lead changed, its card's text did not
    drain()

    edits = [r for r in tg.requests[sent_before:] if r.method.lower() == "editmessagetext"]
    card.refresh_from_db()
    assert edits == [] and card.status == Status.SENT and card.sent_version == card.version
    assert card.sent_digest and len(tg.messages(tg.chat_id)[0].edits) == 0


def test_message_is_not_modified_counts_as_delivered(tg):
    lead = LeadFactory()
    card = notify(lead)
    # As if the digest were lost (a card sent before it was kept): the edit goes out and Telegram says
    # it would change nothing.
    Notification.objects.filter(pk=card.pk).update(sent_digest="")
    from notifications.services import card_refresh

    card_refresh(lead=lead)
    drain()

    card.refresh_from_db()
    assert [r.status for r in tg.requests if r.method.lower() == "editmessagetext"] == [400]
    assert card.status == Status.SENT and card.last_error == "" and card.sent_digest
    assert Lead.objects.get(pk=lead.pk).status != Lead.Status.MANUAL


def test_changes_to_a_card_waiting_for_its_turn_add_no_delivery_task(tg, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    from celery import current_app

    from notifications.services import card_refresh

    lead = LeadFactory()
    card = notify(lead)
    sent: list = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args=(), **kw: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        card_refresh(lead=lead)  # sent card: one task for the edit
        card_refresh(lead=lead)  # still waiting: the same edit will show this too
        card_refresh(lead=lead)

    assert Notification.objects.get(pk=card.pk).version == card.version + 3
    assert sent == [("notifications.tasks.deliver", (card.pk,))]


def test_a_batch_of_leads_moving_on_sends_each_sent_card_once_and_leaves_waiting_ones(
        tg, monkeypatch, django_capture_on_commit_callbacks):
    """A claimer's batch refreshes its leads' cards together (cards_refresh with several leads)."""
    from celery import current_app

    from notifications.services import cards_refresh

    shown, other = LeadFactory(), LeadFactory()
    shown_card, other_card = notify(shown), notify(other)
    waiting = Notification.objects.create(lead=LeadFactory(), chat=shown_card.chat, kind=Kind.CARD,
                                          status=Status.PENDING, due_at=timezone.now())
    sent: list = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args=(), **kw: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        cards_refresh(lead_ids=[shown.pk, other.pk, waiting.lead_id])

    assert sorted(sent) == sorted([("notifications.tasks.deliver", (shown_card.pk,)),
                                   ("notifications.tasks.deliver", (other_card.pk,))])
    for card in (shown_card, other_card, waiting):
        now = Notification.objects.get(pk=card.pk)
        assert now.version == card.version + 1 and now.status == Status.PENDING


def test_cards_joining_a_digest_add_no_delivery_task_for_it(tg, monkeypatch, django_capture_on_commit_callbacks):
    """One delivery task per digest, when it is made: the cards of a burst joining it used to queue one each,
    and a card that waited alone for its turn (fewer than DIGEST_MIN waiting) one of its own."""
    from celery import current_app

    from notifications.services import DIGEST_MIN
    from notifications.tasks import notify_step

    sent: list = []
    monkeypatch.setattr(current_app, "send_task",
                        lambda name, args=(), **kw: sent.append(args[0]) if name == "notifications.tasks.deliver" else None)
    leads = [LeadFactory(name=f"Lead {i}") for i in range(30)]
    with django_capture_on_commit_callbacks(execute=True):
        for lead in leads:
            notify_step(lead.pk)  # the step, then its card's first try at delivery (joining the digest)

    digests = list(Notification.objects.filter(kind=Kind.DIGEST).values_list("pk", flat=True))
    digested = set(Notification.objects.filter(kind=Kind.CARD, status=Status.DIGESTED).values_list("pk", flat=True))
    assert len(digests) == 1 and len(digested) > 20
    assert sent.count(digests[0]) == 1
    # Nor a task for each card that waited for its turn until the digest took it along: only the first
    # ones, which waited before there were enough of them for a digest.
    assert len(digested.intersection(sent)) < DIGEST_MIN
    drain(timeout=60)  # and that one task (or the sweeper) is enough: every lead is shown
    shown = "\n".join(m.plain for m in tg.messages(tg.chat_id))
    assert all(phone_mask(lead.phone) in shown for lead in leads)


@pytest.mark.parametrize("bucket, window, limit", [("GROUP", 60, 20), ("CHAT", 1, 1 + 3), ("BOT", 1, 30)])
def test_our_share_of_each_limit_stays_under_it_in_any_window(bucket, window, limit):
    """A token bucket lets `burst + rate * window` through in any window: that must stay below what
    Telegram counts in the same window (Bots FAQ: 20/min per group, ~1/s per chat, 30/s in all)."""
    from notifications import services as notification_services

    rate, burst = getattr(notification_services, f"{bucket}_RATE"), getattr(notification_services, f"{bucket}_BURST")
    assert burst + rate * window < limit


def test_the_notify_task_delivers_the_card_itself_without_a_task_of_its_own(tg, monkeypatch,
                                                                           django_capture_on_commit_callbacks):
    from celery import current_app

    from notifications.tasks import notify_step

    sent: list = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args=(), **kw: sent.append(name))
    lead = LeadFactory()
    with django_capture_on_commit_callbacks(execute=True):
        notify_step(lead.pk)

    card = Notification.objects.get(lead=lead, kind=Kind.CARD)
    assert card.status == Status.SENT and [m.message_id for m in tg.messages(tg.chat_id)] == [card.message_id]
    assert "notifications.tasks.deliver" not in sent


def test_an_edit_steps_back_while_a_new_lead_waits_to_be_announced(tg):
    from notifications.services import EDIT_BEHIND, card_refresh

    shown = LeadFactory()
    card = notify(shown)
    waiting = LeadFactory()
    Notification.objects.create(lead=waiting, chat=card.chat, kind=Kind.CARD, due_at=timezone.now())  # not sent yet
    edits_before = len([r for r in tg.requests if r.method.lower() == "editmessagetext"])
    Lead.objects.filter(pk=shown.pk).update(status=Lead.Status.MANUAL, manual_reason="call by hand")
    card_refresh(lead=Lead.objects.get(pk=shown.pk))
    notification_deliver(card.pk)

    card.refresh_from_db()
    assert len([r for r in tg.requests if r.method.lower() == "editmessagetext"]) == edits_before
    assert card.status == Status.PENDING and card.due_at > timezone.now() + EDIT_BEHIND / 2


def test_a_card_edited_many_times_still_retries_a_failed_edit(tg, monkeypatch):
    """Tries are counted from the last success: a card's edits over a long day do not use up the retries
    of the next one (giving up would send the lead to manual handling)."""
    from notifications.services import card_refresh

    monkeypatch.setattr("notifications.services.random.uniform", lambda a, b: 0.0)
    monkeypatch.setattr("notifications.services.MAX_ATTEMPTS", 3)
    lead = LeadFactory(name="Name 0")
    card = notify(lead)
    for n in range(1, 5):
        Lead.objects.filter(pk=lead.pk).update(name=f"Name {n}")
        card_refresh(lead=Lead.objects.get(pk=lead.pk))
        if n == 4:
            tg.fail_next("editMessageText", "http5xx")
        drain()

    card.refresh_from_db()
    assert [r.fault for r in tg.requests if r.method == "editMessageText"] == [None, None, None, "http5xx", None]
    assert card.status == Status.SENT and "Name 4" in tg.messages(tg.chat_id)[-1].plain
    assert Lead.objects.get(pk=lead.pk).status != Lead.Status.MANUAL


# --- the notify step's claimer (issue 15) -------------------------------------------------------
def claimer_run(n: int, monkeypatch, on_commit) -> tuple[list[Lead], int, list[str]]:
    """`n` leads accepted together, then one claimer run: (the leads, its SQL statements, tasks it sent)."""
    from celery import current_app
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django.conf import settings

    from leads import ratelimit
    from notifications.services import _buckets, _chat, notify_claim_run

    sent: list[str] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args=(), **kw: sent.append(name))
    # Every run starts with the chat's share of Telegram's limits whole, whatever earlier tests and runs
    # took from the bot-wide bucket: the same first cards go out singly each time.
    for key, rate, capacity in _buckets(_chat(settings.TELEGRAM_CHAT_ID)):
        for _ in range(int(capacity)):
            ratelimit.give_back(key, rate=rate, capacity=capacity)
    leads = [LeadFactory(name=f"Lead {i}", notify_due_at=timezone.now()) for i in range(n)]
    with CaptureQueriesContext(connection) as queries, on_commit(execute=True):
        assert notify_claim_run() == n
    return leads, len([q for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]), sent


def test_one_claimer_run_announces_a_burst_with_its_first_cards_and_one_digest(
        tg, monkeypatch, django_capture_on_commit_callbacks):
    leads, _statements, sent = claimer_run(30, monkeypatch, django_capture_on_commit_callbacks)

    assert {lead.notify_state for lead in Lead.objects.all()} == {Lead.StepState.DONE}
    cards = Notification.objects.filter(kind=Kind.CARD)
    assert cards.count() == 30 and not cards.filter(status=Status.PENDING).exists()
    single = list(cards.filter(status=Status.SENT).order_by("pk").values_list("lead__name", flat=True))
    assert single == ["Lead 0", "Lead 1"]  # the chat's first two turns (CHAT_BURST), in order
    assert cards.filter(status=Status.DIGESTED).count() == 30 - len(single)
    assert Notification.objects.filter(kind=Kind.DIGEST).count() == 1
    assert "notifications.tasks.notify_step" not in sent and sent.count("notifications.tasks.deliver") == 1
    drain(timeout=60)
    shown = "\n".join(m.plain for m in tg.messages(tg.chat_id))
    assert all(phone_mask(lead.phone) in shown for lead in leads)


def test_a_burst_costs_the_claimer_the_same_statements_for_45_leads_as_for_15(
        tg, monkeypatch, django_capture_on_commit_callbacks):
    """Made, recorded and handed to the digest together. One task and about a dozen statements per
    lead before (notify_step). (Both bursts fit one digest; a digest holds DIGEST_MAX cards, and each
    further one costs its own few statements.)"""
    from notifications.services import DIGEST_MAX

    assert 45 < DIGEST_MAX
    _leads, few, _sent = claimer_run(15, monkeypatch, django_capture_on_commit_callbacks)
    Notification.objects.all().delete()
    Lead.objects.all().delete()

    _leads, many, _sent = claimer_run(45, monkeypatch, django_capture_on_commit_callbacks)

    assert many <= few + 3


def test_a_call_result_that_reaches_the_lead_edits_its_card_once(tg, settings):
    from telephony.models import CallAttempt
    from telephony.services import CallResult, call_result_record
    from telephony.tokens import attempt_token

    settings.VOXIMPLANT_CALLBACK_SECRET = "test-callback-secret"
    lead = LeadFactory()
    card = notify(lead)
    attempt = CallAttemptFactory(lead=lead, status=CallAttempt.Status.STARTED)
    Lead.objects.filter(pk=lead.pk).update(call_state=Lead.StepState.RUNNING, first_dial_at=timezone.now())

    result = CallResult(attempt_id=attempt.pk, token=attempt_token(attempt.pk), result="human")
    assert call_result_record(result) == "applied"
    drain()

    [message] = tg.messages(tg.chat_id)
    assert "Reached by phone" in message.plain and len(message.edits) == 1
    # The step's result and the lead's new status: one change of the card.
    assert Notification.objects.get(pk=card.pk).version == card.version + 1
