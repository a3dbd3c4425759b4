"""Timeline entries one by one, or together in one INSERT inside timeline_batch()."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leads.models import LeadEvent
from leads.timeline import timeline_add, timeline_batch
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def entry(lead, message: str) -> LeadEvent:
    return LeadEvent(lead=lead, kind=LeadEvent.Kind.NOTE, message=message, data={})


def test_outside_a_batch_an_entry_is_written_at_once():
    lead = LeadFactory()
    added = timeline_add(entry(lead, "one"))
    assert added.pk is not None and LeadEvent.objects.filter(lead=lead, message="one").exists()


def test_a_batch_writes_its_entries_in_one_insert_at_its_end_in_their_order():
    lead = LeadFactory()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        with timeline_batch():
            added = [timeline_add(entry(lead, name)) for name in ("one", "two", "three")]
            written_inside = len(queries)
    assert written_inside == 0
    assert [q["sql"].split(" (")[0] for q in queries] == ['INSERT INTO "leads_leadevent"']
    assert [event.message for event in lead.events.filter(kind=LeadEvent.Kind.NOTE).order_by("at", "id")] == [
        "one", "two", "three"]
    assert all(event.pk is not None for event in added)


def test_an_error_inside_a_batch_writes_none_of_its_entries():
    lead = LeadFactory()
    with pytest.raises(RuntimeError):
        with timeline_batch():
            timeline_add(entry(lead, "lost"))
            raise RuntimeError("the change failed")
    assert not LeadEvent.objects.filter(message="lost").exists()
    timeline_add(entry(lead, "after"))  # and the thread is out of the batch
    assert LeadEvent.objects.filter(message="after").exists()


def test_a_batch_inside_a_batch_leaves_the_writing_to_the_outer_one():
    lead = LeadFactory()
    with timeline_batch():
        with timeline_batch():
            timeline_add(entry(lead, "inner"))
        assert not LeadEvent.objects.filter(message="inner").exists()
        timeline_add(entry(lead, "outer"))
    assert set(LeadEvent.objects.filter(kind=LeadEvent.Kind.NOTE).values_list("message", flat=True)) == {
        "inner", "outer"}
