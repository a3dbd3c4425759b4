"""Consent in the admin: the sites' texts (a change saves a new version), the proofs (read only, on the
lead and as a CSV export)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from consent.export import ProofFilterForm, export_filename, proofs_csv
from consent.models import ConsentProof, ConsentText
from consent.selectors import consent_proofs, consent_text_current
from consent.services import consent_text_add
from leads.models import Site


def site_consent_summary(site: Site) -> str:
    """The site's current text on its admin page, with a link to write the next version."""
    current = consent_text_current(site)
    add = format_html('<a href="{}?site={}">{}</a>', reverse("admin:consent_consenttext_add"), site.pk,
                      _("write a new version") if current else _("write the first version"))
    if current is None:
        return format_html("{} · {}", _("none yet: a form must send its text as consent_text"), add)
    return format_html('<a href="{}">{}</a>: {} · {}', reverse("admin:consent_consenttext_change", args=[current.pk]),
                       _("version %(n)d") % {"n": current.version}, Truncator(current.text).chars(200), add)


@admin.register(ConsentText)
class ConsentTextAdmin(admin.ModelAdmin):
    list_display = ("site", "version", "excerpt", "created_at", "created_by")
    list_filter = ("site",)
    search_fields = ("site__domain", "text")
    fields = ("site", "version", "text", "created_at", "created_by")

    def get_readonly_fields(self, request, obj=None):
        return ("version", "created_at", "created_by") + (("site",) if obj else ())

    @admin.display(description=_("text"))
    def excerpt(self, obj: ConsentText) -> str:
        return Truncator(obj.text).chars(80)

    def save_model(self, request, obj: ConsentText, form, change) -> None:
        # Never an UPDATE: a changed text is the site's next version, the one shown stays as it was.
        if change and "text" not in form.changed_data:
            return
        old_version = obj.version
        new = consent_text_add(site=obj.site, text=obj.text, author=request.user.get_username())
        obj.pk, obj.version, obj.created_at, obj.created_by = new.pk, new.version, new.created_at, new.created_by
        obj._state.adding = False
        if change:
            self.message_user(request, _("Saved as version %(new)d; version %(old)d stays as it was.")
                              % {"new": new.version, "old": old_version}, messages.INFO)


class ConsentProofInline(admin.StackedInline):
    """The proof on the lead's page, read only."""

    model = ConsentProof
    fk_name = "lead"
    fields = ("given_at", "ip", "user_agent", "page_url", "page_source", "consent_text", "text")
    readonly_fields = fields
    can_delete = False
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ConsentProof)
class ConsentProofAdmin(admin.ModelAdmin):
    list_display = ("given_at", "lead_link", "site", "consent_text", "ip", "page_url")
    list_filter = ("site", "given_at")
    list_select_related = ("lead", "site", "consent_text")
    search_fields = ("=lead__phone", "=lead__public_id", "=ip")
    date_hierarchy = "given_at"
    fields = ("lead", "site", "given_at", "ip", "user_agent", "page_url", "page_source", "consent_text", "text")
    readonly_fields = fields

    @admin.display(description=_("lead"))
    def lead_link(self, obj: ConsentProof) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:leads_lead_change", args=[obj.lead_id]),
                           obj.lead.phone)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a proof goes only with its lead

    def get_urls(self):
        return [path("export/", self.admin_site.admin_view(self.export_view), name="consent_consentproof_export"),
                *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        can_export = request.user.has_perm("consent.export_consentproof")
        return super().changelist_view(request, {**(extra_context or {}), "can_export": can_export})

    def export_view(self, request):
        if not request.user.has_perm("consent.export_consentproof"):
            raise PermissionDenied
        form = ProofFilterForm(request.GET or None)
        if form.is_valid():
            site, first, last = (form.cleaned_data[name] for name in ("site", "first", "last"))
            proofs = consent_proofs(site=site, first=first, last=last, tz=timezone.get_current_timezone())
            return proofs_csv(proofs.iterator(chunk_size=2000), filename=export_filename(site, first, last))
        return TemplateResponse(request, "admin/consent/export.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
            "title": _("Export consent proofs"),
        })
