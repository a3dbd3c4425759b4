"""The follow-up message: planned after a call that did not reach the person, sent once per lead (and per
site once more after the last call), inside the lead's calling window, never to a listed or opted-out
number, within the site's daily budget. A gateway's refusal puts the lead into manual handling with the
reason; nothing is dropped silently.

The Message row is the done-marker: planned (pending, with its due time), claimed (sending, its budget
slot taken under the site's lock before the remote call), then sent / failed / skipped; a sent message's
delivery status is read back from the gateway by the sweeper.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from dnc.services import dnc_entry_blocking
from leads import hooks
from leads import services as lead_services
from leads.models import Lead, LeadEvent
from messaging.gateways import GatewayError, Outgoing, gateway_from_settings
from messaging.models import Message, SiteMessaging
from messaging.render import message_text
from telephony.call_window import next_allowed
from telephony.policy import CallSettings, call_settings_for

logger = logging.getLogger(__name__)

Status, Kind = Message.Status, Message.Kind
LEASE = timedelta(minutes=2)  # a claim not finished by then (a worker died) is taken again
MAX_TRIES = 6
UNCONFIRMED = "unconfirmed"  # provider_status of a try whose answer was lost
COUNTED = (Status.SENDING, Status.SENT, Status.DELIVERED, Status.UNDELIVERED)
NOT_TEXTED = (Lead.Status.REACHED, Lead.Status.HANDLED, Lead.Status.SPAM, Lead.Status.OPTED_OUT)


def message_follow_up_plan(*, lead: Lead, last: bool, now: datetime) -> Message | None:
    """After a call that did not reach the person: the message to send, once per lead and kind (None: the
    site sends none). `last`: the cadence is over. Call it inside the transaction that routes the call."""
    config = SiteMessaging.objects.filter(site_id=lead.site_id, enabled=True).first()
    if config is None or not lead.phone:
        return None
    first_exists = Message.objects.filter(lead=lead, kind=Kind.FIRST_MISS).exists()
    if last and first_exists and not config.after_last:
        return None
    kind = Kind.LAST_MISS if last and first_exists else Kind.FIRST_MISS
    if Message.objects.filter(lead=lead, kind=kind).exists():
        return None
    message = Message.objects.create(lead=lead, kind=kind, phone=lead.phone, due_at=now)
    transaction.on_commit(lambda: _send_later(message.pk))
    return message


def _send_later(message_id: int) -> None:
    from messaging import tasks

    try:
        tasks.send.delay(message_id)
    except Exception:  # the broker is down: the sweeper sends it
        logger.warning("could not queue message %s; the sweeper will", message_id, exc_info=True)


def message_send(*, message_id: int) -> str:
    """Send a due message (safe to call twice). Returns what became of it: its status, or "not due"."""
    now = timezone.now()
    if not Message.objects.filter(pk=message_id, status__in=[Status.PENDING, Status.SENDING],
                                  due_at__lte=now).update(status=Status.SENDING, due_at=now + LEASE,
                                                          tries=F("tries") + 1):
        return "not due"
    message = Message.objects.select_related("lead__site", "lead__partner").get(pk=message_id)
    lead = message.lead
    config = SiteMessaging.objects.filter(site_id=lead.site_id, enabled=True).first()
    if config is None:
        return _skip(message, _("the site no longer sends messages"))
    if lead.status in NOT_TEXTED:
        return _skip(message, _("the lead is %(status)s") % {"status": lead.get_status_display()})
    cfg = call_settings_for(lead.site)
    at = next_allowed(cfg, now, phone=lead.phone)
    if at is None or at > now:  # outside the lead's window: wait for it (no window in weeks: a person decides)
        if at is None:
            return _fail(message, _("no moment inside the lead's calling window in the next three weeks"))
        Message.objects.filter(pk=message.pk).update(status=Status.PENDING, due_at=at)
        return Status.PENDING
    gateway = gateway_from_settings()
    sender = config.sender or settings.SMS_SENDER
    if gateway is None or not sender:
        return _fail(message, _("SMS is not configured (SMS_GATEWAY, the VoxImplant credentials, SMS_SENDER)"))
    refused = _reserve(message, config, cfg, now)
    if refused:
        return refused
    text = message_text(config)
    try:
        sent = None
        if message.provider_status == UNCONFIRMED:  # the last try's answer was lost: did it go after all?
            sent = gateway.find_sent(phone=message.phone, text=text, since=message.created_at)
        sent = sent or gateway.send(sender=sender, phone=message.phone, text=text)
    except GatewayError as exc:
        return _gateway_error(message, exc, now)
    Message.objects.filter(pk=message.pk).update(
        status=Status.SENT, gateway=gateway.name, text=text, provider_id=sent.provider_id, fragments=sent.fragments,
        provider_status="", detail="", due_at=None, sent_at=now)
    lead_services.lead_event_add(lead=lead, kind=LeadEvent.Kind.NOTE, step="sms",
                                 message=_("text message sent (%(kind)s)") % {"kind": message.get_kind_display()})
    hooks.lead_changed(lead)
    return Status.SENT


def _reserve(message: Message, config: SiteMessaging, cfg: CallSettings, now: datetime) -> str | None:
    """Take the message's slot in the site's daily budget, and check the do-not-call list, under the
    site's and the number's locks: two workers cannot both take the last slot, nor send after an opt-out."""
    lead = message.lead
    with transaction.atomic():
        listed = dnc_entry_blocking(phone=message.phone, site_id=lead.site_id, partner_id=lead.partner_id)
        if listed is not None:
            return _skip(message, _("the number is on the do-not-call list"))
        SiteMessaging.objects.select_for_update().filter(pk=config.pk).exists()
        day = now.astimezone(cfg.tz).date()
        day_start = datetime.combine(day, time(0), tzinfo=cfg.tz)
        used = Message.objects.filter(lead__site=lead.site_id, status__in=COUNTED, sent_at__gte=day_start).count()
        if config.daily_budget and used >= config.daily_budget:
            return _fail(message, _("the site's budget of %(n)d messages a day is used up") % {"n": config.daily_budget})
        Message.objects.filter(pk=message.pk).update(sent_at=now)
    return None


def _gateway_error(message: Message, exc: GatewayError, now: datetime) -> str:
    if exc.retryable and message.tries < MAX_TRIES:
        after = timedelta(seconds=30 if exc.maybe_sent else min(600, 15 * 2 ** message.tries))
        Message.objects.filter(pk=message.pk).update(
            status=Status.PENDING, due_at=now + after, detail=str(exc)[:300],
            provider_status=UNCONFIRMED if exc.maybe_sent else message.provider_status)
        return Status.PENDING
    return _fail(message, str(exc))


def _skip(message: Message, why: str) -> str:
    Message.objects.filter(pk=message.pk).update(status=Status.SKIPPED, due_at=None, detail=why[:300])
    return Status.SKIPPED


def _fail(message: Message, why: str) -> str:
    """Not sent, and it needs a person: the lead goes to manual handling with the reason."""
    Message.objects.filter(pk=message.pk).update(status=Status.FAILED, due_at=None, detail=why[:300])
    reason = _("The follow-up text message was not sent: %(why)s") % {"why": why}
    if not lead_services.lead_to_manual(lead=message.lead, reason=reason, step="sms"):
        lead_services.lead_event_add(lead=message.lead, kind=LeadEvent.Kind.MANUAL, step="sms", message=reason)
    return Status.FAILED


def messages_dispatch_due(*, limit: int = 200) -> int:
    """The sweeper: send the messages that are due (claims lost with a worker included)."""
    due = list(Message.objects.filter(status__in=[Status.PENDING, Status.SENDING], due_at__lte=timezone.now())
               .order_by("due_at").values_list("pk", flat=True)[:limit])
    for message_id in due:
        message_send(message_id=message_id)
    return len(due)


def messages_status_check(*, limit: int = 200) -> int:
    """Read the delivery status of sent messages (sent in the last two days, not checked in the last minute)."""
    gateway = gateway_from_settings()
    now = timezone.now()
    waiting = list(Message.objects.filter(status=Status.SENT, sent_at__gte=now - timedelta(days=2))
                   .exclude(checked_at__gt=now - timedelta(minutes=1)).select_related("lead__site")[:limit])
    if gateway is None or not waiting:
        return 0
    try:
        found = gateway.statuses([Outgoing(m.provider_id, m.phone, m.sent_at) for m in waiting])
    except GatewayError as exc:
        logger.warning("could not read message statuses: %s", exc)
        return 0
    changed = 0
    for message in waiting:
        delivery = found.get(message.provider_id)
        fields: dict = {"checked_at": now}
        if delivery is not None:
            fields["provider_status"] = delivery.provider_status
            if delivery.state == "delivered":
                fields.update(status=Status.DELIVERED, delivered_at=now)
            elif delivery.state == "undelivered":
                fields.update(status=Status.UNDELIVERED, detail=(delivery.detail or delivery.provider_status)[:300])
        if Message.objects.filter(pk=message.pk, status=Status.SENT).update(**fields) and "status" in fields:
            changed += 1
            hooks.lead_changed(message.lead)
    return changed
