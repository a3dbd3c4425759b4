"""Migration operations shared by several apps' migrations (which import them: keep them stable)."""

from __future__ import annotations

from django.db import migrations


def index_dropped(alter_field: migrations.AlterField, *, table: str, column: str,
                  index: str) -> migrations.SeparateDatabaseAndState:
    """`alter_field` only turns a column's own index off (db_index=False): drop that index and nothing else.

    Django's AlterField would also drop and re-add the column's foreign key constraint, and re-adding it
    checks every row of the table under a lock. The index name is the one Django gave it, the same on
    every database."""
    return migrations.SeparateDatabaseAndState(
        state_operations=[alter_field],
        database_operations=[migrations.RunSQL(
            f'DROP INDEX IF EXISTS "{index}"',
            reverse_sql=f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" ("{column}")',
        )],
    )
