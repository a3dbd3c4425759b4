"""Batches lock their rows in one order (leadcaller/db.py), so two batches sharing rows wait, never deadlock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadcaller.db import rows_bulk_update, rows_update
from leads import pipeline
from leads.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


# The id is the one column selected, so Django may name it by position.
BY_ID = re.compile(r'ORDER BY (1|"leads_lead"\."id") ASC FOR NO KEY UPDATE\s*$')
LOCKS = re.compile(r"FOR (NO KEY )?UPDATE")


def locking_statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if LOCKS.search(q["sql"])]


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


def test_a_bulk_update_writes_each_objects_own_values_in_one_statement():
    sent_at = timezone.now() - timedelta(minutes=5)
    leads = [LeadFactory(crm_sent_at=sent_at, crm_synced_attempt=0) for _ in range(3)]
    untouched = LeadFactory(crm_sent_at=sent_at)
    for n, lead in enumerate(leads, start=1):
        # A column of NULLs alone (crm_sent_at) would be text to PostgreSQL without a cast.
        lead.bitrix_lead_id, lead.crm_sent_at, lead.crm_synced_attempt = 9_000_000_000 + n, None, n
        lead.crm_opt_out_written = n == 2

    with CaptureQueriesContext(connection) as queries:
        assert rows_bulk_update(leads, ["bitrix_lead_id", "crm_sent_at", "crm_synced_attempt",
                                        "crm_opt_out_written"]) == 3

    rows = {lead.pk: lead for lead in Lead.objects.filter(pk__in=[lead.pk for lead in leads])}
    assert [(rows[lead.pk].bitrix_lead_id, rows[lead.pk].crm_sent_at, rows[lead.pk].crm_synced_attempt,
             rows[lead.pk].crm_opt_out_written) for lead in leads] == [
        (9_000_000_001, None, 1, False), (9_000_000_002, None, 2, True), (9_000_000_003, None, 3, False)]
    untouched.refresh_from_db()
    assert (untouched.bitrix_lead_id, untouched.crm_sent_at) == (None, sent_at)
    [update] = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert "CASE" not in update


def test_a_bulk_update_locks_its_rows_by_id_first():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks (it runs one writing transaction at a time)")
    leads = [LeadFactory() for _ in range(3)]
    for lead in leads:
        lead.crm_synced_attempt = 1

    with CaptureQueriesContext(connection) as queries:
        assert rows_bulk_update(list(reversed(leads)), ["crm_synced_attempt"]) == 3

    [lock] = locking_statements(queries)
    assert BY_ID.search(lock), lock
    statements = [q["sql"] for q in queries.captured_queries]
    assert statements.index(lock) < next(i for i, sql in enumerate(statements) if sql.startswith("UPDATE"))
