"""A lead posted over HTTP is picked up by a real Celery worker through the configured broker
(Redis in CI, the embedded broker elsewhere): no eager mode."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.db import connection
from rest_framework.test import APIClient

from leads.models import Lead
from tests.conftest import wait_for
from tests.factories import SiteFactory

@pytest.fixture
def worker(celery_worker):
    return celery_worker()


def test_lead_committed_over_http_is_processed_by_a_real_worker(worker):
    proc, log_path = worker
    print(f"database: {connection.vendor}; broker: {django_settings.CELERY_BROKER_URL.split('://')[0]}")
    SiteFactory(domain="shop.example")

    response = APIClient().post("/api/v1/leads/", {"phone": "+79120001122"}, format="json",
                                HTTP_ORIGIN="https://shop.example", HTTP_X_REQUEST_ID="req-worker-test")
    assert response.status_code == 201
    lead_id = response.json()["id"]

    def finished() -> bool:
        lead = Lead.objects.get(public_id=lead_id)
        return "pending" not in (lead.crm_state, lead.call_state, lead.notify_state) and \
            "running" not in (lead.crm_state, lead.call_state, lead.notify_state)

    ok = wait_for(finished)
    log = log_path.read_text()
    assert ok, f"worker did not process the lead; exit={proc.poll()}\n{log[-3000:]}"
    lead = Lead.objects.get(public_id=lead_id)
    assert (lead.crm_state, lead.call_state, lead.notify_state) == ("skipped", "failed", "skipped")
    assert lead.status == Lead.Status.MANUAL
    # The request id and lead id travelled with the task into the worker's log lines.
    assert f"request=req-worker-test lead={lead_id}" in log


def test_sweeper_task_run_by_a_worker_dispatches_a_lead_whose_message_was_lost(worker):
    from celery import current_app

    from tests.factories import LeadFactory

    proc, log_path = worker
    lead = LeadFactory(crm_queued_at=None, call_queued_at=None, notify_queued_at=None)  # as if the broker was down
    current_app.send_task("leads.tasks.dispatch_due")

    ok = wait_for(lambda: Lead.objects.get(pk=lead.pk).status == Lead.Status.MANUAL)
    assert ok, log_path.read_text()[-3000:]
