"""An opt-out that lands while a retry is due is never followed by a dial: two real threads, one
posting the scenario's opted_out result and one running the due call step, started together.

The dial checks the list in the transaction that writes its call attempt, under the number's lock
(dnc/numbers.py), which the opt-out takes too. So in every round either the attempt was written
before the entry existed (the dial came first: allowed), or there is no attempt and the lead ended
opted out. Without the lock, a dial that checked just before the entry was written would write its
attempt after it. Run on PostgreSQL (CI), where the lock is an advisory lock; on SQLite every
transaction holds the database's write lock, which serialises them as well.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from dnc.models import Entry
from dnc.numbers import number_hash
from leads import pipeline
from leads.models import Lead
from telephony.models import CallAttempt
from telephony.tokens import attempt_token
from tests.conftest import run_together
from tests.factories import LeadFactory, SiteFactory

ROUNDS = 12
URL = "/api/v1/telephony/voximplant/callback/"
State = Lead.StepState


def _setup(i: int, same_lead: bool) -> tuple[CallAttempt, Lead]:
    """The attempt whose result opts out, and the lead whose retry is due at that moment."""
    site = SiteFactory()
    phone = f"+7912555{i:04d}"
    first = LeadFactory(site=site, phone=phone, ref=f"first-{i}")
    pipeline.step_run(step_name="call", lead_id=first.pk)
    attempt = first.call_attempts.get()
    if same_lead:  # the watchdog gave up on the call and scheduled the next; then its result comes after all
        CallAttempt.objects.filter(pk=attempt.pk).update(status=CallAttempt.Status.LOST)
        Lead.objects.filter(pk=first.pk).update(status=Lead.Status.SCHEDULED, call_state=State.PENDING,
                                                scheduled_at=timezone.now(), call_queued_at=None)
        return attempt, first
    due = LeadFactory(site=site, phone=phone, ref=f"second-{i}", status=Lead.Status.SCHEDULED,
                      scheduled_at=timezone.now())
    return attempt, due


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_lead", [True, False], ids=["late result of the lead's own call", "another lead"])
def test_an_opt_out_landing_while_a_retry_is_due_is_never_followed_by_a_dial(vox, same_lead):
    seen = Counter()
    for i in range(ROUNDS):
        attempt, due = _setup(i, same_lead)
        body = {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk), "result": "opted_out",
                "digits": "9", "duration": 4}

        def opt_out():
            assert APIClient().post(URL, body, format="json").status_code == 200

        run_together(opt_out, lambda: pipeline.step_run(step_name="call", lead_id=due.pk))

        entry = Entry.objects.get(phone_hash=number_hash(attempt.phone), removed_at=None)
        later = list(CallAttempt.objects.filter(lead=due).exclude(pk=attempt.pk))
        due.refresh_from_db()
        for dial in later:
            assert dial.created_at < entry.added_at, "a dial was written after the number was listed"
        if later:
            seen["dialled first"] += 1
        else:
            assert (due.status, due.call_state) == (Lead.Status.OPTED_OUT, State.SKIPPED)
            seen["opt-out first"] += 1
    print(f"backend: {connection.vendor}; {dict(seen)}")
    assert sum(seen.values()) == ROUNDS
