"""The admin site: Django's, with the needs-attention queue's size shown beside it in the menu."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class LeadcallerAdminSite(admin.AdminSite):
    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        for app in apps:
            for model in app["models"]:
                if model["object_name"] == "ManualLead":
                    from leads.selectors import manual_queue_size

                    model["name"] = f"{model['name']} ({manual_queue_size()})"
        return apps


class LeadcallerAdminConfig(AdminConfig):
    default_site = "leadcaller.admin_site.LeadcallerAdminSite"
