"""Admin for sites, partners and leads (the manual-handling workplace grows here)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from consent.admin import ConsentProofInline, site_consent_summary
from leads import handling
from leads.admin_erasure import erase_people
from leads.admin_paging import CappedCountPaginator
from leads.models import (
    BitrixAuth, IntakeCounter, IntegrationCheck, Lead, LeadEvent, ManualLead, Partner, PartnerRule, Site, split_codes,
)
from leads.phones import NUMBER_TYPES
from leads.services import lead_event_add
from messaging.admin import LeadMessagesAdminMixin
from notifications.models import Notification
from telephony.admin_plan import CallPlanAdminMixin
from telephony.models import CallAttempt
from telephony.selectors import lead_call_wait, lead_clock


class SiteForm(forms.ModelForm):
    """The kinds of numbers to call as boxes to tick, kept as a comma-separated list."""

    call_number_types = forms.MultipleChoiceField(
        label=Site._meta.get_field("call_number_types").verbose_name, required=False,
        widget=forms.CheckboxSelectMultiple, help_text=Site._meta.get_field("call_number_types").help_text,
        choices=[(code, label) for code, (_type, label) in NUMBER_TYPES.items()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["call_number_types"] = split_codes(self.instance.call_number_types or "")

    def clean_call_number_types(self) -> str:
        return ",".join(self.cleaned_data["call_number_types"])


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    form = SiteForm
    # A recording URL typed without a scheme is read as https (Django 6's default, chosen now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("domain", "name", "is_active", "is_default", "require_key", "time_zone", "calling_hours")
    list_filter = ("is_active", "require_key")
    search_fields = ("domain", "name")
    readonly_fields = ("created_at", "consent_text")
    fieldsets = (
        (None, {"fields": ("domain", "name", "is_active", "is_default", "currency", "created_at")}),
        (_("Intake"), {"fields": ("intake_key", "require_key", "phone_region")}),
        (_("Consent and privacy"), {"fields": ("consent_required", "consent_text", "telegram_full_phone")}),
        (_("Calling"), {"fields": ("time_zone", "calling_hours", "non_calling_dates", "call_rule_id", "caller_id",
                                   "recording_url", "tts_text", "tts_voice", "amd_model", "call_allowed_regions",
                                   "call_number_types", "call_daily_budget", "call_max_per_number",
                                   "skip_holidays")}),
        (_("Calls of a lead not reached"), {"fields": ("call_cadence", "call_cadence_busy", "call_cadence_voicemail",
                                                       "voicemail_action", "voicemail_url")}),
        (_("Disclosure and opt-out"), {"fields": ("disclosure_url", "disclosure_text", "opt_out_digit",
                                                  "opt_out_scope")}),
        (_("Personal data"), {"fields": ("retention_days",)}),
    )

    def get_fieldsets(self, request, obj=None):
        # The intake key lets a server post as the site: only those who may change sites see it.
        if request.user.has_perm("leads.change_site"):
            return self.fieldsets
        return [(name, {**options, "fields": [f for f in options["fields"] if f != "intake_key"]})
                for name, options in self.fieldsets]

    @admin.display(description=_("consent text"))
    def consent_text(self, obj: Site) -> str:
        return site_consent_summary(obj) if obj.pk else "—"

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


class NotificationInline(admin.TabularInline):
    model = Notification
    fk_name = "lead"
    fields = ("created_at", "kind", "chat", "status", "attempts", "sent_at", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class HandlingForm(ActionForm):
    outcome = forms.ChoiceField(label=_("outcome"), required=False, choices=[
        ("", "—"), ("called back", _("called back")), ("order placed", _("order placed")),
        ("not interested", _("not interested")), ("unreachable", _("unreachable")), ("other", _("other"))])
    comment = forms.CharField(label=_("comment"), required=False, max_length=300)


def _handle(action, label: str, **extra):
    """A changelist action calling one handling service per selected lead (safe to click twice)."""
    def run(modeladmin, request, queryset):
        done = sum(bool(action(lead=lead, user=request.user, **{k: f(request) for k, f in extra.items()}))
                   for lead in queryset.select_related("site"))
        skipped = queryset.count() - done
        modeladmin.message_user(request, ngettext("%(n)d lead: %(label)s.", "%(n)d leads: %(label)s.", done)
                                % {"n": done, "label": label}, messages.SUCCESS)
        if skipped:
            modeladmin.message_user(request, ngettext(
                "%(n)d lead left as it was (nothing to do).", "%(n)d leads left as they were (nothing to do).",
                skipped) % {"n": skipped}, messages.WARNING)
    run.__name__ = action.__name__
    run.short_description = label
    run.allowed_permissions = ("handle",)
    return run


def _comment(request) -> str:
    return request.POST.get("comment", "").strip()[:300]


def _outcome(request) -> str:
    return request.POST.get("outcome", "").strip() or str(_("handled"))


HANDLING_ACTIONS = [
    _handle(handling.lead_take, _("Take (assign to me)")),
    _handle(handling.lead_call_again, _("Call again (within calling hours)")),
    _handle(handling.lead_call_now, _("Call again now, even outside hours")),
    _handle(handling.lead_retry_crm, _("Retry the CRM step")),
    _handle(handling.lead_resend_notification, _("Resend the Telegram card")),
    _handle(handling.lead_mark_handled, _("Mark as handled (outcome and comment below)"),
            outcome=_outcome, comment=_comment),
    _handle(handling.lead_mark_spam, _("Mark as spam or invalid"), comment=_comment),
]


class HandlingAdminMixin:
    action_form = HandlingForm
    actions = HANDLING_ACTIONS

    def has_handle_permission(self, request) -> bool:
        return request.user.has_perm("leads.handle_lead")


@admin.register(Lead)
class LeadAdmin(CallPlanAdminMixin, LeadMessagesAdminMixin, HandlingAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at", "phone", "name", "site", "partner", "status", "manual_reason",
        "crm_state", "call_state", "notify_state", "assigned_to",
    )
    list_filter = ("status", "site", "partner", "site_unknown", "created_at")
    list_select_related = ("site", "partner", "assigned_to")
    search_fields = ("=phone", "phone_raw", "name", "=ref", "=public_id", "email", "=bitrix_lead_id")
    show_full_result_count = False
    paginator = CappedCountPaginator
    inlines = [ConsentProofInline, CallAttemptInline, NotificationInline, LeadEventInline]
    actions = [*HANDLING_ACTIONS, erase_people]
    readonly_fields = (
        "public_id", "status", "manual_reason", "manual_since", "opt_out_reason", "do_not_call", "erased_at",
        "assigned_to", "bitrix_lead_id",
        "created_at", "updated_at", "closed_at", "phone", "raw_request", "client_ip", "user_agent",
        "crm_state", "crm_due_at", "crm_tries", "call_state", "scheduled_at", "call_tries",
        "notify_state", "notify_due_at", "notify_tries", "local_time", "call_wait", "call_plan", "text_messages",
    )
    fieldsets = (
        (None, {"fields": ("public_id", "status", "manual_reason", "manual_since", "opt_out_reason", "do_not_call",
                           "erased_at", "assigned_to", "site", "site_unknown", "partner", "ref", "bitrix_lead_id")}),
        (_("Contact"), {"fields": ("name", "phone_raw", "phone", "email", "comment")}),
        (_("Order"), {"fields": ("order_amount", "currency")}),
        (_("Source"), {"fields": ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
                                  "client_ip", "user_agent", "extra", "raw_request")}),
        (_("Calls"), {"fields": ("call_plan", "text_messages")}),
        (_("Pipeline"), {"fields": ("crm_state", "crm_due_at", "crm_tries", "call_state", "scheduled_at",
                                    "call_wait", "local_time", "call_tries", "notify_state", "notify_due_at",
                                    "notify_tries")}),
        (_("Times"), {"fields": ("created_at", "updated_at", "closed_at")}),
    )

    @admin.display(description=_("do-not-call list"))
    def do_not_call(self, obj: Lead) -> str:
        """Whether the number may be called for this lead now, and if not, which entry forbids it."""
        from dnc.services import dnc_entries

        if not obj.phone:
            return "—"
        entries = dnc_entries(phone=obj.phone, site=obj.site, partner=obj.partner)
        return "; ".join(f"{entry.target_label}, {entry.get_source_display()}, {entry.added_at:%Y-%m-%d}"
                         for entry in entries) or _("not listed")

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("leads.erase_personal_data")

    @admin.display(description=_("lead's local time"))
    def local_time(self, obj: Lead) -> str:
        return lead_clock(obj, timezone.now()) if obj.pk else "—"

    @admin.display(description=_("why the call waits"))
    def call_wait(self, obj: Lead) -> str:
        return (lead_call_wait(obj, timezone.now()) if obj.pk else None) or "—"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            # On the timeline, like every other change; the dashboard's rollups follow the timeline.
            lead_event_add(lead=obj, kind=LeadEvent.Kind.NOTE, actor=request.user,
                           message=_("edited: %(fields)s") % {"fields": ", ".join(form.changed_data)})


class ReasonFilter(admin.SimpleListFilter):
    title = _("reason")
    parameter_name = "reason"
    REASONS = {
        "calling": ("Automatic calling", _("calling not configured")),
        "number": ("calls go only to", _("number not callable")),
        "valid": ("is not a valid number", _("invalid number")),
        "kind": ("kind of number", _("kind of number not called")),
        "budget": ("budget", _("budget used up")),
        "ceiling": ("calls an hour", _("hourly ceiling reached")),
        "unknown": ("not registered", _("unknown site")),
        "cooldown": ("already called", _("number called too often")),
        "reached": ("Not reached after", _("not reached")),
        "failed": ("The call failed", _("call failed")),
        "result": ("no result", _("no call result")),
        "voximplant": ("VoxImplant", _("VoxImplant error")),
        "bitrix": ("Bitrix24", _("Bitrix24 error")),
        "telegram": ("Telegram", _("Telegram error")),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (_needle, label) in self.REASONS.items()]

    def queryset(self, request, queryset):
        if self.value() in self.REASONS:
            return queryset.filter(manual_reason__icontains=self.REASONS[self.value()][0])
        return queryset


@admin.register(ManualLead)
class ManualLeadAdmin(HandlingAdminMixin, admin.ModelAdmin):
    """Leads that need a person, oldest first: what to do next, at a glance."""

    list_display = ("manual_since", "waited", "manual_reason", "lead_link", "name", "site", "partner", "assigned_to")
    list_display_links = None
    list_filter = (ReasonFilter, "site", "partner", "assigned_to", "created_at")
    list_select_related = ("site", "partner", "assigned_to")
    search_fields = ("=phone", "phone_raw", "name", "=ref", "=bitrix_lead_id")
    ordering = ("manual_since", "id")
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=Lead.Status.MANUAL)

    @admin.display(description=_("phone"))
    def lead_link(self, obj: Lead) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:leads_lead_change", args=[obj.pk]), obj.phone)

    @admin.display(description=_("waiting"))
    def waited(self, obj: Lead) -> str:
        return timesince(obj.manual_since, timezone.now()) if obj.manual_since else "—"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the lead page lives under Leads; the queue only lists and acts

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BitrixAuth)
class BitrixAuthAdmin(admin.ModelAdmin):
    """Whether the Bitrix24 application is connected and its last error; the tokens are never shown."""

    list_display = ("domain", "member_id", "refreshed_at", "expires_at", "last_error")
    fields = ("domain", "member_id", "client_endpoint", "refreshed_at", "expires_at", "last_error")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(IntegrationCheck)
class IntegrationCheckAdmin(admin.ModelAdmin):
    """The audit of the Integrations page's buttons: read only."""

    list_display = ("at", "username", "provider", "action", "target", "ok", "result")
    list_filter = ("provider", "action", "ok")
    readonly_fields = [field.name for field in IntegrationCheck._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(IntakeCounter)
class IntakeCounterAdmin(admin.ModelAdmin):
    list_display = ("slot", "site", "kind", "count")
    list_filter = ("kind", "site")
    date_hierarchy = "slot"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
