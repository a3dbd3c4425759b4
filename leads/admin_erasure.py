"""Erasure in the admin: the leads' action that erases people's data on request, and the audit list."""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from leads.erasure import person_erase
from leads.models import Erasure


@admin.action(description=_("Erase these people's personal data (every lead with their numbers)"),
              permissions=["erase"])
def erase_people(modeladmin, request, queryset):
    """After a confirmation page: erase the data of everyone whose number a selected lead has."""
    phones = sorted(set(queryset.exclude(phone="").values_list("phone", flat=True)))
    if request.POST.get("confirmed") != "yes":
        return TemplateResponse(request, "admin/leads/lead/erase_confirm.html", {
            **modeladmin.admin_site.each_context(request), "opts": modeladmin.model._meta,
            "title": _("Erase personal data"), "numbers": len(phones),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0")})
    note = request.POST.get("note", "").strip()[:300]
    erased = sum(person_erase(phone=phone, user=request.user, note=note).leads for phone in phones)
    modeladmin.message_user(request, ngettext(
        "Personal data erased: %(leads)d lead of %(people)d people.",
        "Personal data erased: %(leads)d leads of %(people)d people.", erased) % {"leads": erased,
                                                                               "people": len(phones)},
        messages.SUCCESS)
    return None


@admin.register(Erasure)
class ErasureAdmin(admin.ModelAdmin):
    """The audit of erasures: read only."""

    list_display = ("at", "kind", "leads", "dnc_entries", "username", "note")
    list_filter = ("kind",)
    readonly_fields = [field.name for field in Erasure._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
