from __future__ import annotations

from celery import shared_task

from leads import pipeline


@shared_task(name="telephony.tasks.call_step", soft_time_limit=pipeline.CALL_SOFT_TIME_LIMIT,
             time_limit=pipeline.CALL_TIME_LIMIT)
def call_step(lead_id: int) -> None:
    pipeline.step_run(step_name="call", lead_id=lead_id)
