"""The two groups of people who work with leads. Nobody outside them sees a lead."""

from django.db import migrations

MANAGERS = {
    "leads": ["view_lead", "change_lead", "handle_lead", "view_manuallead", "view_leadevent", "view_site",
              "view_partner", "view_partnerrule", "view_intakecounter"],
    "telephony": ["view_callattempt"],
    "notifications": ["view_notification", "view_telegramchat"],
}
ADMINISTRATORS_EXTRA = {
    "leads": ["add_site", "change_site", "add_partner", "change_partner", "add_partnerrule", "change_partnerrule",
              "delete_partnerrule", "view_bitrixauth"],
    "notifications": ["add_telegramchat", "change_telegramchat"],
}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():  # permissions normally appear only after migrate
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def grant(group_name: str, *grants: dict) -> None:
        group, _ = Group.objects.get_or_create(name=group_name)
        for spec in grants:
            for app_label, codenames in spec.items():
                group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label,
                                                                 codename__in=codenames))

    grant("managers", MANAGERS)
    grant("administrators", MANAGERS, ADMINISTRATORS_EXTRA)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("leads", "0005_manual_handling"),
        ("telephony", "0002_attempt_custom_data"),
        ("notifications", "0001_initial"),
    ]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
