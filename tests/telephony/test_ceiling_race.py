"""Two dials of different sites racing for the hourly ceiling's last call: one dials, the other goes to
manual handling. Every dial counts the last hour's attempts under the ceiling's lock (telephony/policy.py),
held until its own attempt is committed, so the second count sees the first dial. Run on PostgreSQL (CI),
where the lock is an advisory lock; on SQLite every transaction holds the database's write lock."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from leads import pipeline
from leads.models import Lead
from telephony.models import CallAttempt
from tests.conftest import run_together
from tests.factories import LeadFactory, SiteFactory

ROUNDS = 8


@pytest.mark.django_db(transaction=True)
def test_two_dials_racing_for_the_ceilings_last_call_make_one_call(vox, settings):
    seen = Counter()
    for i in range(ROUNDS):
        settings.CALL_HOURLY_CEILING = CallAttempt.objects.count() + 1
        first, second = (LeadFactory(site=SiteFactory(), phone=f"+7912556{i:02d}{n:02d}") for n in (1, 2))

        run_together(*(lambda lead=lead: pipeline.step_run(step_name="call", lead_id=lead.pk)
                       for lead in (first, second)))

        dialled = CallAttempt.objects.filter(lead__in=[first, second]).count()
        held = Lead.objects.filter(pk__in=[first.pk, second.pk], status=Lead.Status.MANUAL).count()
        assert (dialled, held) == (1, 1), f"round {i}: {dialled} dialled, {held} held back"
        seen[dialled] += 1
    print(f"backend: {connection.vendor}; rounds with one dial: {seen[1]}")
    assert sum(1 for r in vox.requests if r.cmd == "StartScenarios") == ROUNDS
