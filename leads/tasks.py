"""Celery tasks of the leads app: thin wrappers that take an id and call the pipeline."""

from __future__ import annotations

from celery import shared_task

from leads import crm, partners, pipeline


@shared_task(name="leads.tasks.crm_step")
def crm_step(lead_id: int) -> None:
    crm.crm_step_run(lead_id=lead_id)


@shared_task(name="leads.tasks.sync_partners")
def sync_partners() -> dict:
    return partners.partners_sync_if_connected()


@shared_task(name="leads.tasks.dispatch_due")
def dispatch_due() -> int:
    return pipeline.dispatch_due()
