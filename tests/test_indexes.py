"""The tables every lead writes a dozen times carry no index that another index already provides.

Each index a row is in costs every INSERT and every UPDATE of the row (the pipeline's updates change
indexed columns, so PostgreSQL cannot make them heap-only). An index is redundant where another one,
on all rows, has the same leading key columns. Read from PostgreSQL's catalogue, which tells key columns
from INCLUDE ones and a partial index from a full one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection

from leads.models import Lead, LeadEvent
from notifications.models import Notification
from telephony.models import CallAttempt

HOT_MODELS = (Lead, LeadEvent, CallAttempt, Notification)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's catalogue"),
]


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    partial: bool
    unique: bool


def indexes_of(table: str) -> list[Index]:
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT c.relname, i.indisunique, i.indpred IS NOT NULL,
                   array(SELECT a.attname FROM unnest(i.indkey[:i.indnkeyatts - 1]) WITH ORDINALITY AS k(num, pos)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num ORDER BY k.pos)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = %s::regclass AND NOT i.indisprimary""", [table])
        return [Index(name, tuple(keys), partial, unique) for name, unique, partial, keys in cursor.fetchall()]


@pytest.mark.parametrize("model", HOT_MODELS, ids=lambda model: model.__name__)
def test_no_index_repeats_the_start_of_another(model) -> None:
    indexes = indexes_of(model._meta.db_table)
    full = [index for index in indexes if not index.partial]
    # Each pair once: the other has more key columns, or as many and a later name.
    redundant = [(index.name, other.name) for index in full if not index.unique for other in full
                 if other.keys[:len(index.keys)] == index.keys
                 and (len(other.keys), other.name) > (len(index.keys), index.name)]

    assert len(indexes) > 2 and redundant == []


@pytest.mark.parametrize("model", HOT_MODELS, ids=lambda model: model.__name__)
def test_every_foreign_key_starts_an_index(model) -> None:
    # A deleted site, user, seller or chat is looked up in these tables by its key.
    starts = {index.keys[0] for index in indexes_of(model._meta.db_table)}
    keys = {field.column for field in model._meta.concrete_fields if field.is_relation}

    assert keys and keys - starts == set()
