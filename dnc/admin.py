"""The do-not-call list in the admin: search by number, add, remove (kept as history), CSV in and out."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dnc.files import csv_import, csv_parse, entries_csv
from dnc.models import Entry
from dnc.numbers import number_hash
from dnc.services import dnc_add, dnc_entries_remove
from leads.phones import PhoneError, phone_normalize

MAX_UPLOAD = 2 * 1024 * 1024


class EntryForm(forms.ModelForm):
    """A new entry: the number as typed, for every site, or one site or partner."""

    class Meta:
        model = Entry
        fields = ["phone", "site", "partner", "reason"]
        help_texts = {"site": _("Blank, with no partner either: every site."),
                      "partner": _("Only this partner's leads.")}

    def clean_phone(self) -> str:
        try:
            return phone_normalize(self.cleaned_data["phone"], region=settings.PHONE_REGION)
        except PhoneError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict:
        data = super().clean()
        if data.get("site") and data.get("partner"):
            raise forms.ValidationError(_("Choose a site or a partner, not both."))
        return data


class RemoveForm(ActionForm):
    reason = forms.CharField(label=_("why"), required=False, max_length=300)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_(
        "UTF-8, comma or semicolon separated, a first row naming the columns: phone, and any of site (a domain), "
        "partner (a code), reason."))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError(_("The file is larger than 2 MB: split it."))
        return upload


class ListedFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", _("on the list")), ("removed", _("removed"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(removed_at=None)
        if self.value() == "removed":
            return queryset.exclude(removed_at=None)
        return queryset


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    form = EntryForm
    action_form = RemoveForm
    actions = ["remove_entries", "export_csv"]
    change_list_template = "admin/dnc/entry/change_list.html"
    list_display = ("number", "target_label", "source", "reason", "added_at", "added_by_name", "removed_at",
                    "removed_by_name")
    list_filter = (ListedFilter, "scope", "source", "site", "partner", "added_at")
    list_select_related = ("site", "partner")
    search_fields = ("reason",)
    search_help_text = _("A phone number (as people write it), or words of the reason.")
    readonly_fields = ("phone", "phone_hash", "scope", "site", "partner", "source", "reason", "lead", "added_at",
                       "added_by_name", "removed_at", "removed_by_name", "remove_reason", "erased_at")

    @admin.display(description=_("number"), ordering="phone")
    def number(self, obj: Entry) -> str:
        return obj.phone or _("erased (hash %(hash)s…)") % {"hash": obj.phone_hash[:10]}

    @admin.display(description=_("applies to"))
    def target_label(self, obj: Entry) -> str:
        return obj.target_label

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def get_search_results(self, request, queryset, search_term):
        """A typed number finds its entries by hash: erased ones too."""
        found, duplicates = super().get_search_results(request, queryset, search_term)
        try:
            phone = phone_normalize(search_term, region=settings.PHONE_REGION)
        except PhoneError:
            return found, duplicates
        return found | queryset.filter(phone_hash=number_hash(phone)), duplicates

    def save_model(self, request, obj: Entry, form, change) -> None:
        entry, created = dnc_add(phone=obj.phone, source=Entry.Source.ADMIN, site=obj.site, partner=obj.partner,
                                 reason=obj.reason, user=request.user)
        obj.pk, obj.added_at = entry.pk, entry.added_at
        if not created:
            self.message_user(request, _("This number was on the list for this scope already; the entry is as it "
                                         "was."), messages.WARNING)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # an entry is never edited: remove it and add another

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # nor deleted: a removal is kept as history

    def has_remove_permission(self, request) -> bool:
        return request.user.has_perm("dnc.delete_entry")

    @admin.action(description=_("Remove from the list (kept as history; reason below)"),
                  permissions=["remove"])
    def remove_entries(self, request: HttpRequest, queryset) -> None:
        removed = dnc_entries_remove(entries=queryset, reason=request.POST.get("reason", "").strip(),
                                     user=request.user)
        self.message_user(request, ngettext("%(n)d entry removed.", "%(n)d entries removed.", removed)
                          % {"n": removed}, messages.SUCCESS)

    @admin.action(description=_("Export as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset) -> HttpResponse:
        response = HttpResponse(entries_csv(queryset.select_related("site", "partner").order_by("added_at", "id")),
                                content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="do-not-call-{timezone.localdate()}.csv"'
        return response

    def get_urls(self):
        return [path("import/", self.admin_site.admin_view(self.import_view), name="dnc_entry_import"),
                *super().get_urls()]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            parsed = csv_parse(form.cleaned_data["file"].read())
            errors = parsed.errors
            if not errors:
                created, existing = csv_import(rows=parsed.rows, user=request.user)
                self.message_user(request, _("%(created)d numbers listed, %(existing)d were listed already.")
                                  % {"created": created, "existing": existing}, messages.SUCCESS)
                return redirect("admin:dnc_entry_changelist")
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "errors": errors[:50], "more_errors": max(0, len(errors) - 50), "title": _("Import numbers")}
        return render(request, "admin/dnc/entry/import.html", context, status=400 if errors or form.errors else 200)
