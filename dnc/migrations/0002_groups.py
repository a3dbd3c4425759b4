"""Managers see the do-not-call list and add to it; administrators also remove from it and erase a
person's data on request (leads/roles.py)."""

from django.db import migrations


def grant(apps, schema_editor):
    from leads.roles import groups_ensure

    groups_ensure(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("dnc", "0001_initial"),
        ("leads", "0015_site_disclosure_opt_out_retention"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
