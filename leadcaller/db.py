"""Writes to several rows at once that cannot deadlock with one another.

Every statement that locks several rows of a table must take them in one order. An UPDATE takes its
rows in whatever order its scan finds them, and a SELECT ... FOR UPDATE in its ORDER BY (a model's
default ordering, unless told): two batches sharing rows, taken in different orders, each wait for the
other, and PostgreSQL aborts one of them. Here the order is the primary key's.
"""

from __future__ import annotations

from django.db import connection, models, transaction


def rows_locked(queryset: models.QuerySet) -> list[int]:
    """Lock the rows of `queryset` for the rest of the caller's transaction, in primary-key order, and
    return their keys (those that still match it). FOR NO KEY UPDATE, as the writes that follow change no
    key: a foreign-key check on these rows (a timeline entry for a lead) need not wait for them."""
    return list(queryset.order_by("pk").select_for_update(no_key=True).values_list("pk", flat=True))


def rows_update(queryset: models.QuerySet, **fields: object) -> int:
    """`queryset.update(**fields)`, its rows locked in primary-key order first."""
    with transaction.atomic():
        return queryset.model._default_manager.filter(pk__in=rows_locked(queryset)).update(**fields)


def rows_bulk_update(objects: list[models.Model], fields: list[str]) -> int:
    """Write each object's `fields` to its row, the rows locked in primary-key order first."""
    if not objects:
        return 0
    model = type(objects[0])
    with transaction.atomic():
        if len(objects) > 1:  # one row has no order to keep
            rows_locked(model._default_manager.filter(pk__in=[obj.pk for obj in objects]))
        return _values_update(model, objects, [model._meta.get_field(name) for name in fields])


def _values_update(model: type[models.Model], objects: list[models.Model], fields: list[models.Field]) -> int:
    """One `UPDATE ... FROM (VALUES ...)`. Django's bulk_update builds a CASE WHEN per object and field,
    which took more CPU to compile than the statement took to run (a CRM batch writes a few leads' ids).
    VALUES names its columns column1, column2, ... in PostgreSQL and SQLite alike. PostgreSQL types a
    VALUES column from its values, and a column of NULLs as text, so there each is cast to its field's type."""
    quote, table = connection.ops.quote_name, connection.ops.quote_name(model._meta.db_table)

    def value(n: int, field: models.Field) -> str:
        if connection.vendor == "postgresql":
            return f"CAST(v.column{n} AS {field.cast_db_type(connection)})"
        return f"v.column{n}"

    pk = model._meta.pk
    assignments = ", ".join(f"{quote(field.column)} = {value(n, field)}" for n, field in enumerate(fields, start=2))
    row = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
    sql = (f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(objects))}) AS v "
           f"WHERE {table}.{quote(pk.column)} = {value(1, pk)}")
    params = [param for obj in objects for param in (
        obj.pk, *(field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields))]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
