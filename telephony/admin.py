from __future__ import annotations

from django.contrib import admin

from leads.admin_paging import CappedCountPaginator

from telephony.models import CallAttempt, CeilingHit, ProbeCall


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


@admin.register(ProbeCall)
class ProbeCallAdmin(admin.ModelAdmin):
    """Test calls placed from the Integrations page: read only."""

    list_display = ("created_at", "requested_by", "phone", "caller_id", "status", "outcome", "duration", "detail")
    list_filter = ("status", "outcome")
    readonly_fields = [field.name for field in ProbeCall._meta.fields]


@admin.register(CeilingHit)
class CeilingHitAdmin(admin.ModelAdmin):
    """When a site's daily budget or the hourly ceiling stopped calls, and how many leads it held back."""

    list_display = ("period_start", "kind", "site", "limit", "refused", "first_at", "last_at")
    list_filter = ("kind", "site")
    readonly_fields = [field.name for field in CeilingHit._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
