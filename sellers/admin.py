"""Sellers in the admin: who takes calls, for which sites, when; the offers made to them (read only)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sellers.models import Seller, SellerOffer


@admin.register(Seller)
class SellerAdmin(admin.ModelAdmin):
    list_display = ("name", "phone", "is_active", "on_break", "working_hours", "time_zone", "on_a_call",
                    "last_offered_at")
    list_filter = ("is_active", "on_break", "sites", "partners")
    list_editable = ("on_break",)
    search_fields = ("name", "phone", "telegram_user")
    filter_horizontal = ("sites", "partners")
    readonly_fields = ("last_offered_at", "claimed_until", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "phone", "telegram_user", "bitrix_user_id")}),
        (_("Leads taken"), {"fields": ("sites", "partners")}),
        (_("Availability"), {"fields": ("is_active", "on_break", "time_zone", "working_hours", "claimed_until",
                                        "last_offered_at", "created_at")}),
    )

    @admin.display(boolean=True, description=_("on a call"))
    def on_a_call(self, obj: Seller) -> bool:
        return bool(obj.claimed_until and obj.claimed_until > timezone.now())


@admin.register(SellerOffer)
class SellerOfferAdmin(admin.ModelAdmin):
    list_display = ("offered_at", "seller", "lead", "reason", "result", "time_to_answer", "talk_time")
    list_filter = ("result", "reason", "seller")
    list_select_related = ("seller", "attempt__lead")
    date_hierarchy = "offered_at"

    @admin.display(description=_("lead"))
    def lead(self, obj: SellerOffer):
        return obj.attempt.lead

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
