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


@shared_task(name="leads.tasks.sync_partners_at_start", bind=True, max_retries=10, default_retry_delay=3)
def sync_partners_at_start(self) -> dict:
    """`make run`'s first sync, as soon as the Bitrix24 simulator answers (beat's own waits its interval)."""
    from leads.bitrix import BitrixError

    try:
        return partners.partners_sync_if_connected()
    except BitrixError as exc:
        raise self.retry(exc=exc) from None


@shared_task(name="leads.tasks.dispatch_due")
def dispatch_due() -> int:
    return pipeline.dispatch_due()


@shared_task(name="leads.tasks.erase_expired")
def erase_expired() -> int:
    """Beat: leads past their site's retention period lose their personal data."""
    from leads.erasure import retention_erase_due

    erasure = retention_erase_due()
    return erasure.leads if erasure else 0


@shared_task(name="leads.tasks.purge_submission_keys")
def purge_submission_keys() -> int:
    """Beat: form builders' submission ids past SUBMISSION_KEY_DAYS are forgotten."""
    from leads.builders import submission_keys_purge

    return submission_keys_purge()
