from __future__ import annotations

import time

from django.utils import timezone

from notifications.models import Notification
from notifications.services import notification_deliver


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
