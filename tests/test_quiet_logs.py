"""Quiet logs: the sweeps beat starts every few seconds say nothing at INFO when they find nothing,
and every lead they move is logged with its id (the log format carries request= and lead=)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time

import pytest

from leadcaller.logging import ContextFilter, lead_context
from leads import pipeline
from leads.models import Lead
from leads.tasks import dispatch_due
from notifications.tasks import deliver_due
from tests.conftest import ROOT, database_url, stop_pid, wait_for
from tests.factories import LeadFactory

SWEEPS = ("leads.tasks.dispatch_due", "notifications.tasks.deliver_due")


@pytest.fixture
def info_records(caplog):
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(ContextFilter())
    return caplog


@pytest.mark.django_db(transaction=True)  # the task's prerun closes a connection held in a test transaction
def test_sweeps_that_find_nothing_log_nothing_at_info(info_records):
    # Run as a worker runs them: through Celery's tracer, which logs "Task ... succeeded" at INFO.
    dispatch_due.apply()
    deliver_due.apply()

    assert [r.getMessage() for r in info_records.records] == []


@pytest.mark.django_db(transaction=True)
def test_other_tasks_keep_celerys_lines():
    from leads.tasks import sync_partners

    logger = logging.getLogger("celery.app.trace")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        logger.setLevel(logging.INFO)
        sync_partners.apply()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    assert any("leads.tasks.sync_partners" in r.getMessage() and "succeeded" in r.getMessage() for r in records)


@pytest.mark.django_db
def test_a_sweep_that_moves_a_lead_logs_it_with_the_leads_id(info_records):
    lead = LeadFactory(crm_queued_at=None, call_queued_at=None, notify_queued_at=None)  # their messages were lost
    with lead_context("elsewhere"):
        pipeline.dispatch_due()

    lines = [(r.getMessage(), r.lead_id) for r in info_records.records]
    # The CRM and notify steps have no message of their own: their claimers take them (crm_claim_run,
    # notify_claim_run).
    assert lines == [("sweeper sent the due call step", str(lead.public_id))]


def test_make_runs_beat_and_worker_print_no_line_about_idle_sweeps_and_a_swept_lead_is_traceable(
        celery_worker, tmp_path):
    worker, worker_log = celery_worker()
    env = {**os.environ, "DATABASE_URL": database_url(), "LOG_LEVEL": "INFO", "SWEEP_INTERVAL": "0.3"}
    beat_log = tmp_path / "beat.log"
    with open(beat_log, "w") as out:
        beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "leadcaller", "beat", "-l", "INFO",
                                 "-s", str(tmp_path / "schedule")], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: "beat: Starting" in beat_log.read_text(), timeout=30), beat_log.read_text()
        time.sleep(2)  # several idle sweeps of both kinds (nothing to wait for: they are meant to be silent)
        lead = LeadFactory(crm_queued_at=None, call_queued_at=None, notify_queued_at=None)
        # Only the sweeper sends this lead's steps: its being worked on shows beat and worker run.
        moved = wait_for(lambda: Lead.objects.get(pk=lead.pk).status == Lead.Status.MANUAL)
    finally:
        stop_pid(beat)
    logs = beat_log.read_text() + worker_log.read_text()
    assert moved, logs[-3000:]
    lines = [line for line in logs.splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]  # not the banners
    assert any("celery@" in line and "ready" in line for line in lines)
    assert not [line for line in lines if any(name in line for name in (*SWEEPS, "dispatch-due", "deliver-due"))]
    lead_lines = [line for line in lines if f"lead={lead.public_id}]" in line]
    assert any("sweeper sent the due call step" in line for line in lead_lines), logs[-3000:]
    assert any("telephony.tasks.call_step" in line and "succeeded" in line for line in lead_lines), logs[-3000:]
