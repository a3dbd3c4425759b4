"""Batches lock their rows in one order (leadcaller/db.py), so two batches sharing rows wait, never deadlock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadcaller.db import rows_update
from leads import pipeline
from leads.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


# The id is the one column selected, so Django may name it by position.
BY_ID = re.compile(r'ORDER BY (1|"leads_lead"\."id") ASC FOR UPDATE\s*$')


def locking_statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]


def test_a_batch_update_locks_its_rows_by_id_first(settings):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks (it runs one writing transaction at a time)")
    leads = [LeadFactory() for _ in range(3)]

    with CaptureQueriesContext(connection) as queries:
        assert rows_update(Lead.objects.filter(pk__in=[lead.pk for lead in reversed(leads)]), crm_resync=True) == 3

    [lock] = locking_statements(queries)
    assert BY_ID.search(lock), lock


def test_a_claimers_batch_of_results_locks_its_leads_by_id_not_by_the_models_ordering():
    """The model's default ordering is newest first: a batch recording its results in that order deadlocked
    with a CRM batch updating the same leads in the order its scan found them (PostgreSQL's log, 2026-12-04)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks (it runs one writing transaction at a time)")
    for _ in range(3):
        LeadFactory(notify_due_at=timezone.now() - timedelta(seconds=1))
    claimed = pipeline.step_claim_more(step_name="notify", limit=10)
    rows = Lead.objects.in_bulk([pk for pk, _ in claimed])

    with CaptureQueriesContext(connection) as queries:
        recorded = pipeline.step_outcomes_apply(step_name="notify", results=[
            (rows[pk], pipeline.Done("card queued"), fence) for pk, fence in claimed])

    assert recorded == set(rows)
    [lock] = locking_statements(queries)
    assert BY_ID.search(lock), lock
