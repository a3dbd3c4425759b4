"""Celery tasks of the leads app: thin wrappers that take an id and call the pipeline."""

from __future__ import annotations

from celery import shared_task

from leads import crm, partners, pipeline


@shared_task(name="leads.tasks.crm_step")
def crm_step(lead_id: int) -> None:
    crm.crm_step_run(lead_id=lead_id)


@shared_task(name="leads.tasks.crm_claim")
def crm_claim() -> int:
    return crm.crm_claim_run()


@shared_task(name="leads.tasks.sync_partners")
def sync_partners() -> dict:
    return partners.partners_sync_if_connected()


@shared_task(name="leads.tasks.dispatch_due")
def dispatch_due() -> int:
    return pipeline.dispatch_due()


@shared_task(name="leads.tasks.erase_expired")
def erase_expired() -> int:
    """Beat: leads past their site's retention period lose their personal data."""
    from leads.erasure import retention_erase_due

    erasure = retention_erase_due()
    return erasure.leads if erasure else 0
