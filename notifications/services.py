"""Telling people in Telegram: a live card per lead, an alert per move into manual handling.

Every message is a Notification row first; `notification_deliver` claims it, respects the chat's
share of Telegram's limits (a burst for one chat becomes a digest), and records what happened.
Nothing here can fail a lead's other steps: delivery runs on its own queue, from its own rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from leadcaller import metrics
from leadcaller.compiled import CompiledRead, CompiledUpdates
from leadcaller.db import rows_update
from leadcaller.logging import lead_context
from leads import pipeline, ratelimit
from leads.models import Lead, Site
from leads.pipeline import Done, Manual, Outcome, Retry, Skipped
from notifications import messages, telegram
from notifications.models import Notification, TelegramChat

logger = logging.getLogger(__name__)

Status, Kind = Notification.Status, Notification.Kind
LEASE = timedelta(seconds=60)  # a send and its two fall-backs (plain text, no buttons), 13 s each at most
MAX_ATTEMPTS = 10
DIGEST_MIN = 3  # pending cards for one chat, beyond which a throttled card joins a digest
DIGEST_MAX = 50
TASK = "notifications.tasks.deliver"
EDIT_BEHIND = timedelta(seconds=10)  # how long an edit steps back while new leads wait to be announced


# --- creating messages ------------------------------------------------------------------------
# Leads whose cards one claim makes and records together.
NOTIFY_BATCH = 100


def notify_claim_run() -> int:
    """The notify step's claimer: the cards of every lead due, made and recorded together, then delivered
    (a chat's first cards as its share of Telegram's limits allows, those that would have to wait in its
    digest), until no lead is due or the budget is spent. A burst costs a few tasks and a few statements
    per batch, not a task and a dozen statements per lead. Returns how many leads it took."""
    return pipeline.claimer_run("notify", _notify_claim_once)


def _notify_claim_once() -> int:
    claimed = pipeline.step_claim_more(step_name="notify", limit=NOTIFY_BATCH)
    if not claimed:
        return 0
    leads = Lead.objects.select_related("site__telegram_chat", "partner__telegram_chat").in_bulk(
        [pk for pk, _ in claimed])
    try:
        outcomes = cards_make([leads[pk] for pk, _ in claimed])  # in the order they came
    except Exception as exc:  # a bug or the database: retried like any step, not left to the lease
        logger.exception("notify step of leads %s failed", list(leads))
        outcomes = {pk: Retry(f"{type(exc).__name__}: {exc}") for pk in leads}
    pipeline.step_outcomes_apply(step_name="notify", results=[(leads[pk], outcomes[pk], fence) for pk, fence in claimed])
    _deliver_new_cards(list(leads))
    return len(claimed)


def notify_step_handle(lead: Lead) -> Outcome:
    """The notify step of one lead (a task sent before the claimer took over the step)."""
    return cards_make([lead])[lead.pk]


def cards_make(leads: list[Lead]) -> dict[int, Outcome]:
    """Each lead's card, queued: one INSERT for all. A card made already (a repeated step) stays as it is."""
    if telegram.client_from_settings() is None:
        return {lead.pk: Skipped(_("Telegram is not connected; nobody is notified.")) for lead in leads}
    chats: dict[int, TelegramChat | None] = {}
    default = None  # TELEGRAM_CHAT_ID's row: looked up once for the batch, if a lead needs it
    for lead in leads:
        chats[lead.pk] = _own_chat(lead)
        if chats[lead.pk] is None and settings.TELEGRAM_CHAT_ID:
            chats[lead.pk] = default = default or _chat(settings.TELEGRAM_CHAT_ID)
    now = timezone.now()
    # One card per lead (a constraint): a repeated step's card is skipped, not made twice.
    Notification.objects.bulk_create([Notification(lead=lead, kind=Kind.CARD, chat=chats[lead.pk], due_at=now)
                                      for lead in leads if chats[lead.pk] is not None], ignore_conflicts=True)
    return {lead.pk: Done(_("card queued for %(chat)s") % {"chat": chats[lead.pk]}) if chats[lead.pk] is not None
            else Skipped(_("No Telegram chat is set for this site.")) for lead in leads}


def card_deliver_now(*, lead_id: int) -> None:
    """The notify task, after its step: deliver the lead's new card in the same task."""
    _deliver_new_cards([lead_id])


def _deliver_new_cards(lead_ids: list[int]) -> None:
    """Deliver these leads' new cards, oldest first. Once one has to wait for its chat's turn it joins the
    chat's digest and takes the other waiting cards along, so a burst's cards cost a few tries, not one each."""
    tried: set[int] = set()
    new = Notification.objects.filter(lead__in=lead_ids, kind=Kind.CARD, status=Status.PENDING, message_id=None)
    while pk := new.exclude(pk__in=tried).order_by("pk").values_list("pk", flat=True).first():
        tried.add(pk)
        notification_deliver(pk)


def card_refresh(*, lead: Lead) -> None:
    """The lead moved on: its card is edited to show it (unless it only went out in a digest)."""
    cards_refresh(lead_ids=[lead.pk])


_SHOWING = (Status.PENDING, Status.SENDING, Status.SENT)  # a card that is, or is about to be, in its chat
_card_updates = CompiledUpdates(Notification)
# Every step result of every lead refreshes its card: one lead's statements are built once per connection.
_sent_cards: CompiledRead[Notification] = CompiledRead(
    lambda lead: Notification.objects.filter(lead=lead, kind=Kind.CARD, status=Status.SENT).only("pk"), lead=int)


def cards_refresh(*, lead_ids: list[int]) -> None:
    """These leads moved on: their cards are edited to show it, in a few statements for all of them.

    Changes coalesce: a card still waiting (for its turn in the chat's limits) or being sent shows the
    newest version when it goes, so only a card already sent gets a new delivery task."""
    if not lead_ids:
        return
    newer = F("version") + 1
    if len(lead_ids) > 1:  # several leads' cards are locked in one order first (leadcaller/db.py)
        cards = Notification.objects.filter(lead__in=lead_ids, kind=Kind.CARD, status__in=_SHOWING)
        if not rows_update(cards, version=newer):
            return
        sent = list(cards.filter(status=Status.SENT).values_list("pk", flat=True))
    else:
        if not _card_updates.run("refresh", {"lead": lead_ids[0], "kind": Kind.CARD, "status__in": _SHOWING},
                                 {"version": newer}):
            return
        sent = [card.pk for card in _sent_cards.rows(lead=lead_ids[0])]
    if len(sent) == 1:
        _card_updates.run("edit due", {"pk": sent[0], "status": Status.SENT},
                          {"status": Status.PENDING, "due_at": timezone.now()})
    elif sent:
        Notification.objects.filter(pk__in=sent, status=Status.SENT).update(status=Status.PENDING,
                                                                            due_at=timezone.now())
    for pk in sent:
        _send_after_commit(pk)


def alert_refresh(*, lead: Lead) -> None:
    """Someone took or handled the lead: its "needs a person" alerts are edited to say so, so that
    nobody else in the chat picks it up too."""
    alerts = Notification.objects.filter(lead=lead, kind=Kind.ALERT, status__in=[Status.PENDING, Status.SENDING,
                                                                                 Status.SENT])
    ids = list(alerts.values_list("pk", flat=True))
    alerts.update(version=F("version") + 1)
    Notification.objects.filter(pk__in=ids, status=Status.SENT).update(status=Status.PENDING, due_at=timezone.now())
    for pk in ids:
        _send_after_commit(pk)


def step_result_handle(step_name: str, results: list[tuple[Lead, Outcome]]) -> None:
    """Step listener (leads/pipeline.py): the card shows how the lead is going. Not for the notify
    step's own result, nor for Manual (lead_to_manual changes the lead, which refreshes the card)."""
    if step_name != "notify":
        cards_refresh(lead_ids=[lead.pk for lead, outcome in results if not isinstance(outcome, Manual)])


def lead_changed_handle(lead: Lead) -> None:
    """leads/hooks.py: the lead moved on."""
    card_refresh(lead=lead)


def lead_manual_handle(lead: Lead, reason: str) -> None:
    """leads/hooks.py: the lead needs a person."""
    alert_manual(lead=lead, reason=reason)


def lead_taken_handle(lead: Lead) -> None:
    """leads/hooks.py: a person took the lead or closed it."""
    alert_refresh(lead=lead)


def resend_asked_handle(lead: Lead) -> bool:
    """leads/hooks.py: a person asks for the card again."""
    return card_resend(lead=lead)


def service_alert_handle(text: str, site: Site | None) -> None:
    """leads/hooks.py: the service needs a person (a site reached its dialling ceiling)."""
    alert_service(text=text, site=site)


def card_resend(*, lead: Lead) -> bool:
    """Send the card again as a new message. False when the lead has no card (Telegram was off)."""
    cards = Notification.objects.filter(lead=lead, kind=Kind.CARD)
    ids = list(cards.values_list("pk", flat=True))
    if not ids:
        return False
    # The person resending says the chat works again (e.g. the bot was added back).
    TelegramChat.objects.filter(notifications__in=ids, is_broken=True).update(is_broken=False)
    cards.update(status=Status.PENDING, message_id=None, version=F("version") + 1, attempts=0,
                 due_at=timezone.now(), last_error="", digest=None)
    for pk in ids:
        _send_after_commit(pk)
    return True


def alert_manual(*, lead: Lead, reason: str) -> None:
    """One alert per move into manual handling: a separate message, so that it notifies."""
    if telegram.client_from_settings() is None:
        return
    chat = alert_chat_for(lead)
    if chat is None:
        return
    alert = Notification.objects.create(lead=lead, chat=chat, kind=Kind.ALERT, reason=reason[:300],
                                        due_at=timezone.now())
    _send_after_commit(alert.pk)


def alert_service(*, text: str, site: Site | None = None) -> None:
    """An alert about the service rather than one lead (a spending ceiling reached): to the alerts
    chat, else the site's chat, else TELEGRAM_CHAT_ID."""
    if telegram.client_from_settings() is None:
        return
    chat = _chat(settings.TELEGRAM_ALERT_CHAT_ID) or (site.telegram_chat if site else None) \
        or _chat(settings.TELEGRAM_CHAT_ID)
    if chat is None:
        return
    alert = Notification.objects.create(chat=chat, kind=Kind.ALERT, reason=text[:300], due_at=timezone.now())
    _send_after_commit(alert.pk)


def chat_for(lead: Lead) -> TelegramChat | None:
    return _own_chat(lead) or _chat(settings.TELEGRAM_CHAT_ID)


def _own_chat(lead: Lead) -> TelegramChat | None:
    """The partner's chat, else the site's."""
    if lead.partner_id and lead.partner.telegram_chat_id:
        return lead.partner.telegram_chat
    return lead.site.telegram_chat if lead.site.telegram_chat_id else None


def alert_chat_for(lead: Lead) -> TelegramChat | None:
    return _chat(settings.TELEGRAM_ALERT_CHAT_ID) or chat_for(lead)


def _chat(chat_id: str) -> TelegramChat | None:
    if not chat_id:
        return None
    chat, _created = TelegramChat.objects.get_or_create(chat_id=chat_id,
                                                         defaults={"language": settings.LANGUAGE_CODE[:2]})
    return chat


def _send_after_commit(notification_id: int, countdown: float | None = None) -> None:
    def send() -> None:
        try:
            current_app.send_task(TASK, args=(notification_id,), countdown=countdown)
        except Exception:  # the broker is down: deliver_due sends it later
            logger.warning("could not queue notification %s", notification_id, exc_info=True)

    transaction.on_commit(send)


# --- delivering them --------------------------------------------------------------------------
def notification_deliver(notification_id: int) -> None:
    now = timezone.now()
    if not Notification.objects.filter(pk=notification_id, status=Status.PENDING, due_at__lte=now).update(
            status=Status.SENDING, due_at=now + LEASE):
        return
    note = Notification.objects.select_related("chat", "lead__site", "lead__partner").get(pk=notification_id)
    client = telegram.client_from_settings()
    if client is None:
        _finish(note, Status.FAILED, error=_("Telegram is not connected"))
        return
    if note.chat.is_broken:
        _give_up(note, note.chat.broken_reason)
        return
    if note.kind == Kind.CARD and note.message_id and _announcements_waiting(note):
        _again(note, EDIT_BEHIND)  # new leads are told first; this edit then shows every change since
        return
    try:
        wait = _take_turn(note.chat)
    except ratelimit.StoreDown:  # Telegram's limits cannot be kept without it: not a try, just a wait
        _again(note, timedelta(seconds=ratelimit.StoreDown.RETRY_AFTER))
        return
    if wait:
        if note.kind == Kind.CARD and note.message_id is None and _joined_digest(note, wait):
            return
        _again(note, timedelta(seconds=wait))
        return
    # Only a request counts as a try: waiting for a turn is not one, and a success starts the count again.
    note.attempts += 1
    Notification.objects.filter(pk=note.pk).update(attempts=F("attempts") + 1)
    _send(client, note)


def deliver_due(*, limit: int = 500) -> int:
    """Sweeper: re-send notifications that are due and were never picked up, or whose worker died."""
    now = timezone.now()
    due = list(Notification.objects.filter(status=Status.PENDING, due_at__lte=now - timedelta(seconds=30))
               .values_list("pk", "lead__public_id")[:limit])
    stuck = Notification.objects.filter(status=Status.SENDING, due_at__lte=now)
    due += list(stuck.values_list("pk", "lead__public_id")[:limit])
    stuck.update(status=Status.PENDING, due_at=now)
    for pk, lead_public_id in due:
        with lead_context(lead_public_id or "-"):  # a digest has no lead of its own
            logger.info("sweeper re-sent Telegram notification %s", pk)
            current_app.send_task(TASK, args=(pk,))
    return len(due)


def _send(client: telegram.TelegramClient, note: Notification, *, html: bool = True, buttons: bool = True) -> None:
    version = note.version  # as read when the note was claimed; a change after that sends again (_finish)
    with translation.override(note.chat.language):
        text, keyboard = _render(note)
    keyboard = keyboard if buttons else []
    if not html:
        text = messages.plain(text)
    shown = content_digest(text, keyboard, html=html)
    if note.kind in (Kind.CARD, Kind.ALERT) and note.message_id and shown == note.sent_digest:
        # The message already shows exactly this: an edit would only spend the chat's share of the limits
        # (and Telegram would answer 400 "message is not modified").
        _finish(note, Status.SENT, message_id=note.message_id, sent_version=version, shown=shown)
        return
    try:
        if note.kind in (Kind.CARD, Kind.ALERT) and note.message_id:  # an alert is edited once taken
            client.edit_message(note.chat.chat_id, note.message_id, text, buttons=keyboard, html=html)
            message_id = note.message_id
        else:
            message_id = client.send_message(note.chat.chat_id, text, buttons=keyboard, html=html)
    except telegram.TelegramError as exc:
        if exc.kind == telegram.NOT_MODIFIED:  # it shows this already (told apart by Telegram's parse)
            _finish(note, Status.SENT, message_id=note.message_id, sent_version=version, shown=shown)
            return
        _failed(client, note, exc, html=html, buttons=buttons)
        return
    _finish(note, Status.SENT, message_id=message_id, text=text, sent_version=version, shown=shown)


def content_digest(text: str, keyboard: list[telegram.Button], *, html: bool) -> str:
    """What a message shows, as a short fingerprint: its text, parse mode and buttons."""
    payload = json.dumps([text, html, [(button.text, button.url) for button in keyboard]], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _render(note: Notification) -> tuple[str, list[telegram.Button]]:
    if note.kind == Kind.DIGEST:
        return messages.digest([card.lead for card in note.cards.select_related("lead__site").order_by("pk")]), []
    if note.kind == Kind.ALERT:
        return messages.alert(note.lead, note.reason) if note.lead_id else (messages.service_alert(note.reason), [])
    return messages.card(note.lead)


def _failed(client: telegram.TelegramClient, note: Notification, exc: telegram.TelegramError, *, html: bool,
            buttons: bool) -> None:
    kind = exc.kind
    if exc.unsent:  # while Telegram is unreachable, tries must not use up the chat's share of its limits
        _give_back(_buckets(note.chat))
    if kind == telegram.CANNOT_EDIT:  # too old or deleted: a new message takes its place
        note.message_id = None
        _send(client, note, html=html, buttons=buttons)
    elif kind == telegram.BAD_MARKUP and html:
        logger.error("Telegram could not parse our markup (%s); sending plain text", exc)
        _send(client, note, html=False, buttons=buttons)
    elif kind == telegram.BAD_BUTTON and buttons:  # a card without a button still tells the seller
        logger.error("Telegram refused a button (%s); sending without buttons", exc)
        _send(client, note, html=html, buttons=False)
    elif kind == telegram.MIGRATED:
        _follow_migration(note, exc.migrate_to)
    elif kind == telegram.RETRY and note.attempts < MAX_ATTEMPTS:
        backoff = min(600.0, 2.0 ** note.attempts) * random.uniform(0.5, 1.0) * settings.RETRY_BACKOFF_SCALE
        after = exc.retry_after or backoff
        _again(note, timedelta(seconds=after), error=str(exc))
        metrics.PROVIDER_RETRIES.labels(provider="telegram").inc()
    elif kind in (telegram.BROKEN_CHAT, telegram.UNAUTHORIZED):
        TelegramChat.objects.filter(pk=note.chat_id).update(is_broken=True, broken_reason=str(exc)[:300],
                                                             last_error=str(exc)[:300])
        _give_up(note, str(exc))
    else:
        _give_up(note, str(exc))


def _give_up(note: Notification, error: str) -> None:
    _finish(note, Status.FAILED, error=error)
    logger.warning("Telegram notification %s failed: %s", note.pk, error)
    if note.kind == Kind.CARD and note.lead_id:
        untold = [note.lead]
    elif note.kind == Kind.DIGEST:
        untold = [card.lead for card in note.cards.select_related("lead__site", "lead__partner")]
    else:
        return
    from leads.services import lead_to_manual

    # The seller was not told: a person must look at each lead (the alert goes to the alerts chat).
    for lead in untold:
        lead_to_manual(lead=lead, step="notify",
                       reason=_("The seller could not be told in Telegram: %(error)s") % {"error": error})


def _follow_migration(note: Notification, new_chat_id: str) -> None:
    existing = TelegramChat.objects.filter(chat_id=new_chat_id).first()
    if existing is None:
        TelegramChat.objects.filter(pk=note.chat_id).update(chat_id=new_chat_id)
    else:
        Notification.objects.filter(pk=note.pk).update(chat=existing)
    logger.info("Telegram group %s became supergroup %s", note.chat.chat_id, new_chat_id)
    _again(note, timedelta(0))


def _again(note: Notification, after: timedelta, *, error: str = "") -> None:
    Notification.objects.filter(pk=note.pk, status=Status.SENDING).update(
        status=Status.PENDING, due_at=timezone.now() + after, last_error=error[:300])
    _send_after_commit(note.pk, countdown=max(after.total_seconds(), 0) or None)


def _finish(note: Notification, status: str, *, message_id: int | None = None, text: str = "",
            sent_version: int = 0, error: str = "", shown: str = "") -> None:
    fields = {"status": status, "last_error": error[:300]}
    if status != Status.SENT:
        Notification.objects.filter(pk=note.pk).update(**fields)
        return
    fields.update(message_id=message_id, sent_version=sent_version, sent_at=timezone.now(), sent_digest=shown,
                  attempts=0, **({"text": text} if text else {}))
    if Notification.objects.filter(pk=note.pk, version=sent_version).update(**fields):
        return
    # Changed while we were sending: go again with the new version.
    Notification.objects.filter(pk=note.pk).update(**fields, status=Status.PENDING, due_at=timezone.now())
    _send_after_commit(note.pk)


# Our share of the Bots FAQ limits (core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
# A token bucket lets through `capacity + rate * T` in any window of T seconds, so each is sized for the
# window Telegram counts in, with room for requests that reach it in another order than they left us:
# 20 messages a minute in a group (6 + 13 = 19 in any minute), about 1 a second in a chat, 30 a second
# in all (5 + 20 = 25 in any second). Edits are counted like new messages: Telegram does not say they
# are free, and a card waiting for its turn takes in every change meanwhile (card_refresh).
GROUP_RATE, GROUP_BURST = 13 / 60, 6
CHAT_RATE, CHAT_BURST = 0.9, 2
BOT_RATE, BOT_BURST = 20.0, 5


def _take_turn(chat: TelegramChat) -> float:
    """Seconds to wait for this chat's share of Telegram's limits (0: go now). The scarcest bucket is
    asked first; a refusal by a later one gives back what the earlier ones gave."""
    buckets = _buckets(chat)
    for taken, (key, rate, capacity) in enumerate(buckets):
        wait = ratelimit.take(key, rate=rate, capacity=capacity)
        if wait:
            _give_back(buckets[:taken])
            return wait
    return 0.0


def _give_back(buckets: list[tuple[str, float, float]]) -> None:
    try:
        for key, rate, capacity in buckets:
            ratelimit.give_back(key, rate=rate, capacity=capacity)
    except ratelimit.StoreDown:  # a turn not given back only slows the chat a little
        logger.warning("Telegram turns not given back, the rate-limit store is unreachable")


def _buckets(chat: TelegramChat) -> list[tuple[str, float, float]]:
    """The buckets a message to this chat takes a token from, scarcest first."""
    group = [(f"tg-group:{chat.chat_id}", GROUP_RATE, GROUP_BURST)] if chat.is_group else []
    return [*group, (f"tg-chat:{chat.chat_id}", CHAT_RATE, CHAT_BURST), ("tg-bot", BOT_RATE, BOT_BURST)]


def _announcements_waiting(note: Notification) -> bool:
    """New cards or a digest wait for this chat's turn: an edit of a card already shown must not take it."""
    return Notification.objects.filter(chat=note.chat_id, status=Status.PENDING, message_id=None,
                                       kind__in=[Kind.CARD, Kind.DIGEST]).exclude(pk=note.pk).exists()


def _joined_digest(note: Notification, wait: float) -> bool:
    """During a burst for one chat, new cards go out together in one digest message: a card that must
    wait for its turn joins the chat's digest still to be sent, or starts one with the cards waiting
    beside it (DIGEST_MIN in all). A card that waits alone would cost a delivery task of its own."""
    waiting = Notification.objects.filter(chat=note.chat_id, kind=Kind.CARD, status=Status.PENDING,
                                          message_id=None).order_by("pk")
    with transaction.atomic():
        digest = (Notification.objects.select_for_update()
                  .filter(chat=note.chat_id, kind=Kind.DIGEST, status=Status.PENDING).first())
        held = digest.cards.count() if digest is not None else DIGEST_MAX
        if held >= DIGEST_MAX:
            if waiting.count() + 1 < DIGEST_MIN:
                return False
            digest, held = Notification.objects.create(chat=note.chat, kind=Kind.DIGEST,
                                                       due_at=timezone.now() + timedelta(seconds=wait)), 0
            # Its one delivery task; cards joining it later add none (deliver_due stands in for a lost one).
            _send_after_commit(digest.pk, countdown=wait)
        ids = [note.pk, *waiting.values_list("pk", flat=True)[:max(DIGEST_MAX - held - 1, 0)]]
        rows_update(Notification.objects.filter(pk__in=ids, status__in=[Status.PENDING, Status.SENDING]),
                    status=Status.DIGESTED, digest=digest)
    return True
