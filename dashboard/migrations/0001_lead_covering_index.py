"""On PostgreSQL, an index holding every lead column the dashboard reads, so its grouped queries
over a date range are index-only scans instead of reading the wide lead rows. Other databases
get no index: Django's `Index(include=...)` exists only on PostgreSQL."""

from django.db import migrations

INDEX = "dashboard_lead_cover"
CREATE = (f"CREATE INDEX IF NOT EXISTS {INDEX} ON leads_lead (created_at) INCLUDE "
          "(id, site_id, partner_id, status, last_call_outcome, currency, order_amount, first_dial_at)")


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("leads", "0007_dashboard_columns")]
    operations = [migrations.RunPython(create, drop)]
