"""A lead's timeline entries, written one by one or, inside `timeline_batch()`, together.

A call's result adds three entries to its lead's timeline (the result, the step's end, the lead's
new status) from three layers; inside the batch they go to the database in one INSERT at its end, not
in three. Entries added in the batch have no id until then.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from leadcaller.compiled import CompiledInsert
from leads.models import LeadEvent

_batches = threading.local()
_insert = CompiledInsert(LeadEvent)


def timeline_add(event: LeadEvent) -> LeadEvent:
    """Write the entry now, or at the end of the batch this thread is in."""
    batch = getattr(_batches, "events", None)
    if batch is None:
        _insert.insert(event)
    else:
        batch.append(event)
    return event


@contextmanager
def timeline_batch() -> Iterator[None]:
    """Entries added inside are inserted together when the block ends without an error (use it inside the
    transaction that makes the changes they describe, so that they commit or roll back with them)."""
    if getattr(_batches, "events", None) is not None:  # an outer batch writes them
        yield
        return
    _batches.events = []
    try:
        yield
        events = _batches.events
    finally:
        _batches.events = None
    _insert.insert_many(events)
