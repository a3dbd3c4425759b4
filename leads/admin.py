"""Admin for sites, partners and leads (the manual-handling workplace grows here)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from leads.models import IntakeCounter, Lead, LeadEvent, Partner, PartnerRule, Site
from telephony.models import CallAttempt


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("domain", "name", "is_active", "is_default", "require_key", "time_zone", "calling_hours")
    list_filter = ("is_active", "require_key")
    search_fields = ("domain", "name")
    readonly_fields = ("created_at",)
    fieldsets = (
        (None, {"fields": ("domain", "name", "is_active", "is_default", "currency", "created_at")}),
        (_("Intake"), {"fields": ("intake_key", "require_key", "phone_region")}),
        (_("Calling"), {"fields": ("time_zone", "calling_hours", "non_calling_dates", "call_rule_id", "caller_id",
                                   "recording_url", "tts_text", "tts_voice", "amd_model", "call_allowed_regions",
                                   "call_daily_budget", "call_max_per_number", "call_max_attempts",
                                   "call_retry_minutes")}),
    )

    def save_model(self, request, obj: Site, form, change) -> None:
        from leads.selectors import host_normalize

        obj.domain = host_normalize(obj.domain) or obj.domain
        super().save_model(request, obj, form, change)


class PartnerRuleInline(admin.TabularInline):
    model = PartnerRule
    extra = 1


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "bitrix_company_id", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "code", "rules__value")
    prepopulated_fields = {"code": ("name",)}
    inlines = [PartnerRuleInline]


class LeadEventInline(admin.TabularInline):
    model = LeadEvent
    fields = ("at", "kind", "step", "message", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("at", "id")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class CallAttemptInline(admin.TabularInline):
    model = CallAttempt
    fields = ("number", "status", "outcome", "detail", "duration", "created_at", "finished_at", "record_url")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = (
        "created_at", "phone", "name", "site", "partner", "status", "manual_reason",
        "crm_state", "call_state", "notify_state",
    )
    list_filter = ("status", "site", "partner", "site_unknown", "created_at")
    list_select_related = ("site", "partner")
    search_fields = ("=phone", "phone_raw", "name", "=ref", "=public_id", "email")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [CallAttemptInline, LeadEventInline]
    readonly_fields = (
        "public_id", "created_at", "updated_at", "closed_at", "phone", "raw_request", "client_ip", "user_agent",
        "crm_state", "crm_due_at", "crm_tries", "call_state", "scheduled_at", "call_tries",
        "notify_state", "notify_due_at", "notify_tries",
    )
    fieldsets = (
        (None, {"fields": ("public_id", "status", "manual_reason", "site", "site_unknown", "partner", "ref")}),
        (_("Contact"), {"fields": ("name", "phone_raw", "phone", "email", "comment")}),
        (_("Order"), {"fields": ("order_amount", "currency")}),
        (_("Source"), {"fields": ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
                                  "client_ip", "user_agent", "extra", "raw_request")}),
        (_("Pipeline"), {"fields": ("crm_state", "crm_due_at", "crm_tries", "call_state", "scheduled_at",
                                    "call_tries", "notify_state", "notify_due_at", "notify_tries")}),
        (_("Times"), {"fields": ("created_at", "updated_at", "closed_at")}),
    )


@admin.register(IntakeCounter)
class IntakeCounterAdmin(admin.ModelAdmin):
    list_display = ("day", "site", "kind", "count")
    list_filter = ("kind", "site")
    date_hierarchy = "day"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
