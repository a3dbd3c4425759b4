"""Writes to several rows at once that cannot deadlock with one another.

Every statement that locks several rows of a table must take them in one order. An UPDATE takes its
rows in whatever order its scan finds them, and a SELECT ... FOR UPDATE in its ORDER BY (a model's
default ordering, unless told): two batches sharing rows, taken in different orders, each wait for the
other, and PostgreSQL aborts one of them. Here the order is the primary key's.
"""

from __future__ import annotations

from django.db import models, transaction


def rows_locked(queryset: models.QuerySet) -> list[int]:
    """Lock the rows of `queryset` for the rest of the caller's transaction, in primary-key order, and
    return their keys (those that still match it)."""
    return list(queryset.order_by("pk").select_for_update().values_list("pk", flat=True))


def rows_update(queryset: models.QuerySet, **fields: object) -> int:
    """`queryset.update(**fields)`, its rows locked in primary-key order first."""
    with transaction.atomic():
        return queryset.model._default_manager.filter(pk__in=rows_locked(queryset)).update(**fields)


def rows_bulk_update(objects: list[models.Model], fields: list[str]) -> int:
    """`bulk_update` of these objects, their rows locked in primary-key order first."""
    if not objects:
        return 0
    model = type(objects[0])
    with transaction.atomic():
        if len(objects) > 1:  # one row has no order to keep
            rows_locked(model._default_manager.filter(pk__in=[obj.pk for obj in objects]))
        return model._default_manager.bulk_update(objects, fields)
