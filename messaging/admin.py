"""The follow-up message in the admin: the per-site settings on their own page, the messages on the lead's page."""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from messaging.models import Message, SiteMessaging


@admin.register(SiteMessaging)
class SiteMessagingAdmin(admin.ModelAdmin):
    """A site's follow-up message, on its own page (the site's form stays as it is)."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # as the site's own form
    list_display = ("site", "enabled", "after_last", "sender", "daily_budget")
    list_filter = ("enabled",)
    list_select_related = ("site",)
    fields = ("site", "enabled", "after_last", "template", "shop_name", "seller_phone", "link", "sender",
              "daily_budget")


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("kind", "status", "provider_status", "detail", "phone", "due_at", "sent_at", "delivered_at", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "lead", "kind", "status", "provider_status", "detail", "sent_at", "delivered_at")
    list_filter = ("status", "kind", "lead__site")
    list_select_related = ("lead__site",)
    readonly_fields = [field.name for field in Message._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
