from __future__ import annotations

import random
import time

import pytest
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notification_deliver
from demo.fakes.telegram import FakeTelegram


@pytest.fixture
def tg(settings):
    """A running fake Bot API with one supergroup as the default chat (a fresh id per test, so the
    shared rate-limit buckets of one test never slow another)."""
    with FakeTelegram(timeout_delay=0.6) as fake:
        chat_id = -1000000000000 - random.randrange(10 ** 9)
        fake.add_chat(chat_id, "supergroup", title="Sales")
        fake.chat_id = chat_id
        settings.TELEGRAM_API_URL, settings.TELEGRAM_BOT_TOKEN = fake.url, fake.token
        settings.TELEGRAM_CHAT_ID, settings.TELEGRAM_ALERT_CHAT_ID = str(chat_id), ""
        yield fake


def drain(timeout: float = 30.0) -> None:
    """Deliver every notification that is due, waiting for those due later, until none is left
    (what the deliver tasks and the sweeper do in production)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = Notification.objects.filter(status__in=["pending", "sending"]).order_by("due_at")
        if not pending.exists():
            return
        now = timezone.now()
        Notification.objects.filter(status="sending", due_at__lte=now).update(status="pending")
        due = list(pending.filter(status="pending", due_at__lte=now).values_list("pk", flat=True))
        for pk in due:
            notification_deliver(pk)
        if not due:
            time.sleep(min(0.2, max(0.01, (pending.first().due_at - now).total_seconds())))
    raise AssertionError("notifications still pending after the timeout")
