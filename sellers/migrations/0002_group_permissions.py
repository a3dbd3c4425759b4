"""Managers see sellers and their offers and may put a seller on a break; administrators also add and
remove sellers (leads/roles.py)."""

from django.db import migrations


def grant(apps, schema_editor):
    from leads.roles import groups_ensure

    groups_ensure(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("sellers", "0001_sellers_and_offers"),
        ("leads", "0006_groups"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
