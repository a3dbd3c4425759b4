"""A lead marked handled in the admin while its next call is due is never dialled afterwards: two real
threads, one marking the lead handled, one running the due call step, started together.

The dial reads the lead's status under the lead's row lock (`SELECT ... FOR NO KEY UPDATE`) in the transaction
that writes its call attempt, and marking it handled updates that row. So in every round either the
attempt was written before the mark (the dial came first: allowed), or there is no new attempt and the
call step ended skipped. Without the lock, a dial that read the lead just before the mark would write
its attempt after it. Run on PostgreSQL (CI); on SQLite every write transaction serialises as well.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from leads import handling, pipeline
from leads.models import Lead, LeadEvent
from telephony.models import CallAttempt
from tests.conftest import run_together
from tests.factories import LeadFactory, SiteFactory

ROUNDS = 12
State = Lead.StepState


@pytest.mark.django_db(transaction=True)
def test_a_lead_marked_handled_while_its_call_is_due_is_never_dialled_after_the_mark(vox):
    user = User.objects.create_user("seller", password="x", is_staff=True)
    site = SiteFactory(call_cadence="0, 5m, 30m")
    seen = Counter()
    for i in range(ROUNDS):
        lead = LeadFactory(site=site, phone=f"+7912666{i:04d}")
        pipeline.step_run(step_name="call", lead_id=lead.pk)
        first = lead.call_attempts.get()
        CallAttempt.objects.filter(pk=first.pk).update(status=CallAttempt.Status.FINISHED, outcome="no_answer")
        Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.SCHEDULED, call_state=State.PENDING,
                                               scheduled_at=timezone.now(), call_queued_at=None)

        run_together(lambda: handling.lead_mark_handled(lead=Lead.objects.get(pk=lead.pk), user=user, outcome="x"),
                    lambda: pipeline.step_run(step_name="call", lead_id=lead.pk))

        lead.refresh_from_db()
        marked = LeadEvent.objects.get(lead=lead, kind=LeadEvent.Kind.STATUS)
        later = list(lead.call_attempts.exclude(pk=first.pk))
        assert lead.status == Lead.Status.HANDLED
        for dial in later:
            assert dial.created_at < marked.at, "a dial was written after the lead was marked handled"
        if later:
            seen["dialled first"] += 1
        else:
            assert lead.call_state == State.SKIPPED and lead.scheduled_at is None
            seen["handled first"] += 1
        pipeline.step_run(step_name="call", lead_id=lead.pk)  # whatever is left due never dials
        assert lead.call_attempts.count() == 1 + len(later)
    print(f"backend: {connection.vendor}; {dict(seen)}")
    assert sum(seen.values()) == ROUNDS
