from __future__ import annotations

from django.contrib import admin

from leads.admin_paging import CappedCountPaginator

from notifications.models import Notification, TelegramChat


@admin.register(TelegramChat)
class TelegramChatAdmin(admin.ModelAdmin):
    list_display = ("chat_id", "title", "language", "is_broken", "broken_reason", "updated_at")
    list_filter = ("is_broken", "language")
    search_fields = ("chat_id", "title")
    readonly_fields = ("broken_reason", "last_error", "updated_at")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "chat", "lead", "status", "attempts", "last_error")
    list_filter = ("kind", "status", "chat")
    list_select_related = ("chat", "lead__site")
    search_fields = ("=lead__phone", "=lead__public_id")
    show_full_result_count = False
    paginator = CappedCountPaginator
    readonly_fields = ("lead", "chat", "kind", "status", "reason", "version", "sent_version", "attempts", "message_id",
                       "digest", "text", "last_error", "due_at", "created_at", "sent_at")

    def has_add_permission(self, request) -> bool:
        return False
