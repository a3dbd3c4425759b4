"""A lead posted over HTTP is picked up by a real Celery worker through the configured broker
(Redis in CI, the embedded broker elsewhere): no eager mode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection
from rest_framework.test import APIClient

from leads.models import Lead
from tests.factories import SiteFactory

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the test database this run created, for a worker in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db, tmp_path):
    log_path = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": database_url(), "LOG_LEVEL": "INFO"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "leadcaller", "worker", "--pool=solo", "--without-heartbeat",
             "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        yield proc, log_path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


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
