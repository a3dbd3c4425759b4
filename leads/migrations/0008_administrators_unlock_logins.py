"""Administrators see log-in lock-outs and may unlock them (leads/roles.py)."""

from django.db import migrations


def grant(apps, schema_editor):
    from leads.roles import groups_ensure

    groups_ensure(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0007_dashboard_columns"),
        ("axes", "0010_accessattemptexpiration"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
