"""The managers and administrators groups (see leads/roles.py)."""

from django.db import migrations


def create_groups(apps, schema_editor):
    from leads.roles import groups_ensure

    groups_ensure(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("leads", "0005_manual_handling"),
        ("telephony", "0002_attempt_custom_data"),
        ("notifications", "0001_initial"),
    ]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
