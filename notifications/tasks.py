from __future__ import annotations

from celery import shared_task

from leads import pipeline


@shared_task(name="notifications.tasks.notify_step")
def notify_step(lead_id: int) -> None:
    pipeline.step_run(step_name="notify", lead_id=lead_id)
