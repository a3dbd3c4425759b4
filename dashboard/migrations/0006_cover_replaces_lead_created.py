"""On PostgreSQL, dashboard_lead_cover has the same key as leads' `lead_created` (created_at), and
serves every look-up that one does: `lead_created` is dropped there, one index fewer for every write of
a lead (issue 15). Other databases have no covering index and keep it."""

from django.db import migrations

INDEX = "lead_created"


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON leads_lead (created_at)")


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0005_status_counts"), ("leads", "0020_fewer_indexes_per_write")]
    operations = [migrations.RunPython(drop, create)]
