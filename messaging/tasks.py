"""Celery tasks of the messaging app: thin wrappers over messaging/services.py."""

from __future__ import annotations

from celery import shared_task

from messaging import services


@shared_task(name="messaging.tasks.send")
def send(message_id: int) -> str:
    return services.message_send(message_id=message_id)


@shared_task(name="messaging.tasks.dispatch_due")
def dispatch_due() -> int:
    """Beat: send what is due, then read back delivery statuses."""
    return services.messages_dispatch_due() + services.messages_status_check()
