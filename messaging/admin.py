"""The follow-up message in the admin: its settings on the site's page, the messages on the lead's page."""

from __future__ import annotations

from django.contrib import admin

from messaging.models import Message, SiteMessaging


class SiteMessagingInline(admin.StackedInline):
    model = SiteMessaging
    can_delete = False
    extra = 0
    max_num = 1
    fields = ("enabled", "after_last", "template", "shop_name", "seller_phone", "link", "sender", "daily_budget")


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
