from __future__ import annotations

from django.contrib import admin

from leads.admin_paging import CappedCountPaginator

from telephony.models import CallAttempt


@admin.register(CallAttempt)
class CallAttemptAdmin(admin.ModelAdmin):
    list_display = ("created_at", "lead", "number", "phone", "status", "outcome", "duration", "detail")
    list_filter = ("status", "outcome")
    list_select_related = ("lead__site",)
    search_fields = ("=phone", "=session_id", "=lead__public_id")
    show_full_result_count = False
    paginator = CappedCountPaginator
    readonly_fields = [field.name for field in CallAttempt._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
