"""Managers see consent texts and proofs; administrators also write texts and export proofs (leads/roles.py)."""

from django.db import migrations


def grant(apps, schema_editor):
    from leads.roles import groups_ensure

    groups_ensure(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0002_never_edited"),
        ("leads", "0006_groups"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
