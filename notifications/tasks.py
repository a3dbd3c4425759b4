from __future__ import annotations

from celery import shared_task

from leads import pipeline
from notifications import services


@shared_task(name="notifications.tasks.notify_claim")
def notify_claim() -> int:
    return services.notify_claim_run()


@shared_task(name="notifications.tasks.notify_step")
def notify_step(lead_id: int) -> None:
    """One lead's notify step: sent before the claimer took the step over (still queued at an upgrade)."""
    pipeline.step_run(step_name="notify", lead_id=lead_id)
    services.card_deliver_now(lead_id=lead_id)  # in this task: no second task per lead


@shared_task(name="notifications.tasks.deliver")
def deliver(notification_id: int) -> None:
    services.notification_deliver(notification_id)


@shared_task(name="notifications.tasks.deliver_due")
def deliver_due() -> int:
    return services.deliver_due()
