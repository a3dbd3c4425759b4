"""The two groups of people who work with leads: managers and administrators. Nobody outside them
sees a lead. Used by a data migration, and by tests (whose database flushes drop migration data)."""

from __future__ import annotations

from django.apps import apps as django_apps

# Who may open the dashboard (dashboard/access.py), besides superusers.
DASHBOARD_GROUPS = ("managers", "administrators")
MANAGERS = {
    "leads": ["view_lead", "change_lead", "handle_lead", "view_manuallead", "view_leadevent", "view_site",
              "view_partner", "view_partnerrule", "view_intakecounter"],
    "telephony": ["view_callattempt", "view_ceilinghit"],
    "notifications": ["view_notification", "view_telegramchat"],
    # The do-not-call list: see it, and list a number a person asked not to be called on.
    "dnc": ["view_entry", "add_entry"],
    "consent": ["view_consenttext", "view_consentproof"],
    # Sellers: see them and their offers, and put one on a break or back (the list's "on a break" column).
    "sellers": ["view_seller", "change_seller", "view_selleroffer"],
}
ADMINISTRATORS_EXTRA = {
    "leads": ["add_site", "change_site", "add_partner", "change_partner", "add_partnerrule", "change_partnerrule",
              "delete_partnerrule", "view_bitrixauth", "view_integrationcheck", "test_integrations",
              "view_erasure", "erase_personal_data"],
    "notifications": ["add_telegramchat", "change_telegramchat"],
    # Log-in lock-outs: see them, and unlock a colleague by deleting the access attempt.
    "axes": ["view_accessattempt", "delete_accessattempt", "view_accessfailurelog", "view_accesslog"],
    "telephony": ["view_probecall"],
    # Take a number off the do-not-call list (kept as history); erase a person's data on request.
    "dnc": ["delete_entry"],
    "consent": ["add_consenttext", "change_consenttext", "delete_consenttext", "export_consentproof"],
    "sellers": ["add_seller", "delete_seller"],
}


def groups_ensure(apps=django_apps) -> None:
    """Create both groups with their permissions (idempotent). `apps`: a migration's app registry."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():  # permissions normally appear only after migrate
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in (("managers", [MANAGERS]), ("administrators", [MANAGERS, ADMINISTRATORS_EXTRA])):
        group, _created = Group.objects.get_or_create(name=name)
        for spec in grants:
            for app_label, codenames in spec.items():
                group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label,
                                                                 codename__in=codenames))
