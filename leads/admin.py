"""Admin for sites, partners and leads (the manual-handling workplace grows here)."""

from __future__ import annotations

from collections import Counter

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db import models
from django.contrib.admin.views.main import ChangeList
from django.urls import path
from django.urls import reverse
from django.utils import timezone
from django.templatetags.static import static
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from consent.admin import ConsentProofInline, site_consent_summary
from leads import handling
from leads.admin_erasure import erase_people
from leads.admin_lead_page import OUTCOMES, bitrix_lead_url, lead_do_view, lead_page_context
from leads.admin_paging import CappedCountPaginator
from leads.models import (
    BitrixAuth, IntakeCounter, IntegrationCheck, Lead, LeadEvent, ManualLead, Partner, PartnerRule, Site, split_codes,
)
from leads.phones import NUMBER_TYPES, phone_search_term
from leads.services import UNKNOWN_PARTNER_KEY, lead_event_add
from leads.texts import text
from messaging.admin import LeadMessagesAdminMixin
from notifications.models import Notification
from telephony.admin_plan import CallPlanAdminMixin
from telephony.models import CallAttempt
from telephony.selectors import lead_call_wait, lead_clock


def widget_snippet_tag(site: Site) -> str:
    """The widget's tag for a site, with this server's public address (PUBLIC_BASE_URL)."""
    from django.conf import settings

    src = settings.PUBLIC_BASE_URL.rstrip("/") + static("widget/leadcaller.js")
    return f'<script src="{src}" data-site-key="{site.widget_key}" async></script>'


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

    def clean_bitrix_status_map(self) -> dict:
        """Call outcomes (as the CRM step names them) to Bitrix24 STATUS_ID strings; anything else is refused
        here, not found out when the CRM step skips it."""
        value = self.cleaned_data["bitrix_status_map"] or {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_('Write an object such as {"human": "IN_PROCESS"}.'))
        outcomes = CallAttempt.Outcome.values
        unknown = [key for key in value if key not in outcomes]
        if unknown:
            raise forms.ValidationError(_("Unknown call outcomes: %(keys)s. Use: %(outcomes)s."),
                                        params={"keys": ", ".join(unknown), "outcomes": ", ".join(outcomes)})
        if not all(isinstance(status, str) and status.strip() for status in value.values()):
            raise forms.ValidationError(_("Each status is a Bitrix24 STATUS_ID such as IN_PROCESS or JUNK."))
        return {key: status.strip() for key, status in value.items()}


# Site fields of the seller modes (sellers/, docs/operations.md "Sellers on the line").
SELLER_FIELDS = ("call_mode", "seller_routing", "ring_strategy", "seller_ring_seconds", "seller_wait_seconds",
                 "callback_promise_minutes", "seller_first_fallback", "record_calls")


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    form = SiteForm
    # A recording URL typed without a scheme is read as https (Django 6's default, chosen now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("domain", "name", "is_active", "is_default", "require_key", "time_zone", "calling_hours")
    list_filter = ("is_active", "require_key")
    search_fields = ("domain", "name")
    readonly_fields = ("created_at", "consent_text", "widget_key", "widget_snippet")
    fieldsets = (
        (None, {"fields": ("domain", "name", "is_active", "is_default", "currency", "created_at")}),
        (_("Intake"), {"fields": ("intake_key", "require_key", "phone_region")}),
        (_("Bitrix24 and Telegram"), {"fields": ("telegram_chat", "bitrix_source_id", "bitrix_assigned_by_id",
                                                 "bitrix_status_map")}),
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
        (_("Callback widget and form builders"), {"fields": ("widget_key", "widget_snippet", "form_field_map")}),
        (_("A seller on the line"), {"fields": SELLER_FIELDS}),
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

    @admin.display(description=_("widget snippet"))
    def widget_snippet(self, obj: Site) -> str:
        """The tag to paste into the shop's pages, a button to copy it, and the widget itself as a
        preview (static/widget/leadcaller.js in preview mode: it sends nothing)."""
        if not obj.pk:
            return "—"
        return format_html(
            '<textarea id="lc-snippet" readonly rows="2" cols="90">{snippet}</textarea>'
            '<p><button type="button" class="button" id="lc-snippet-copy" data-done="{done}">{copy}</button> '
            '<span>{hint}</span></p><div class="lc-preview">'
            '<script src="{src}" data-site-key="{key}" data-preview></script></div>'
            '<script src="{copy_js}"></script>',
            snippet=widget_snippet_tag(obj), copy=_("Copy"), done=_("Copied"), src=static("widget/leadcaller.js"),
            key=obj.widget_key, copy_js=static("widget/admin-copy.js"),
            hint=_("Paste it before </body> on every page of the site (docs/forms.md). The preview below "
                   "sends nothing."),
        )

    def save_model(self, request, obj: Site, form, change) -> None:
        from leads.selectors import host_normalize

        obj.domain = host_normalize(obj.domain) or obj.domain
        super().save_model(request, obj, form, change)


def order_label(lead: Lead) -> str:
    if lead.order_amount is None:
        return "—"
    return f"{number_format(lead.order_amount, decimal_pos=2, use_l10n=True, force_grouping=True)} {lead.currency}"


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
    fields = ("moment", "kind", "step", "entry", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("at", "id")
    verbose_name_plural = _("timeline")

    @admin.display(description=_("at"))
    def moment(self, obj: LeadEvent) -> str:
        return date_format(timezone.localtime(obj.at), "Y-m-d H:i:s")

    @admin.display(description=_("what happened"))
    def entry(self, obj: LeadEvent) -> str:
        return obj.text

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class CallAttemptInline(admin.TabularInline):
    model = CallAttempt
    fields = ("number", "status", "outcome", "detail", "duration", "seller", "talk_time", "created_at", "finished_at",
              "record_url")
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


class PartnerCodeFilter(admin.SimpleListFilter):
    """Leads posted with a partner code that named no partner (a mistyped or retired referral code)."""

    title = _("partner code")
    parameter_name = "partner_code"

    def lookups(self, request, model_admin):
        return [("unknown", _("not known"))]

    def queryset(self, request, queryset):
        if self.value() == "unknown":
            return queryset.filter(extra__has_key=UNKNOWN_PARTNER_KEY)
        return queryset


class HandlingForm(ActionForm):
    outcome = forms.ChoiceField(label=_("outcome"), required=False, choices=[("", "—"), *OUTCOMES])
    comment = forms.CharField(label=_("comment"), required=False, max_length=300)


def _handle(action, label: str, **extra):
    """A changelist action calling one handling service per selected lead (safe to click twice)."""
    def run(modeladmin, request, queryset):
        # Counted before acting: an action may take a lead out of the queryset (the needs-attention
        # queue lists manual leads only), and counting afterwards said "-1 leads left as they were".
        selected = list(queryset.select_related("site"))
        done = sum(bool(action(lead=lead, user=request.user, **{k: f(request) for k, f in extra.items()}))
                   for lead in selected)
        skipped = len(selected) - done
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

    def get_search_results(self, request, queryset, search_term):
        """A number typed any common way (8..., without the country code, with spaces and dashes) finds
        the lead by its E.164 phone; other text is searched as usual."""
        phone = phone_search_term(search_term, region=settings.PHONE_REGION)
        if phone is not None:
            return queryset.filter(phone=phone), False
        return super().get_search_results(request, queryset, search_term)

    def has_handle_permission(self, request) -> bool:
        return request.user.has_perm("leads.handle_lead")


class LeadChangeList(ChangeList):
    """Counts each listed lead's dials with one query for the page (never for the whole table)."""

    def get_results(self, request):
        super().get_results(request)
        dials = Counter(CallAttempt.objects.filter(lead__in=[lead.pk for lead in self.result_list])
                        .values_list("lead", flat=True))
        for lead in self.result_list:
            lead.dials = dials.get(lead.pk, 0)


@admin.register(Lead)
class LeadAdmin(CallPlanAdminMixin, LeadMessagesAdminMixin, HandlingAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/leads/lead/change_form.html"
    list_display = (
        "created_at", "phone", "name", "site", "partner", "status", "order", "last_outcome", "next_call", "tries",
        "assigned_to",
    )
    list_filter = ("status", "site", "partner", PartnerCodeFilter, "site_unknown", "created_at")
    list_select_related = ("site", "partner", "assigned_to")
    search_fields = ("=phone", "phone_raw", "name", "=ref", "=public_id", "email", "=bitrix_lead_id")
    show_full_result_count = False
    paginator = CappedCountPaginator
    # The timeline is at the top of the page (templates/admin/leads/lead/_timeline.html).
    inlines = [ConsentProofInline, CallAttemptInline, NotificationInline]
    actions = [*HANDLING_ACTIONS, erase_people]
    readonly_fields = (
        "public_id", "status", "reason", "manual_since", "opt_out_reason", "do_not_call", "erased_at",
        "assigned_to", "bitrix_lead",
        "created_at", "updated_at", "closed_at", "phone", "raw_request", "client_ip", "user_agent",
        "crm_state", "crm_due_at", "crm_tries", "call_state", "scheduled_at", "call_tries",
        "notify_state", "notify_due_at", "notify_tries", "local_time", "call_wait", "call_plan", "text_messages",
    )
    fieldsets = (
        (None, {"fields": ("public_id", "status", "reason", "manual_since", "opt_out_reason", "do_not_call",
                           "erased_at", "assigned_to", "site", "site_unknown", "partner", "ref", "bitrix_lead")}),
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

    def get_changelist(self, request, **kwargs):
        return LeadChangeList

    def get_urls(self):
        def do(request, object_id, action):
            return lead_do_view(request, object_id, action, may_handle=self.has_handle_permission(request))

        return [path("<path:object_id>/do/<str:action>/", self.admin_site.admin_view(do), name="leads_lead_do"),
                *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        lead = self.get_object(request, object_id)
        if lead is not None:
            extra_context = {**(extra_context or {}),
                             **lead_page_context(request, lead, may_handle=self.has_handle_permission(request))}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("order"), ordering="order_amount")
    def order(self, obj: Lead) -> str:
        return order_label(obj)

    @admin.display(description=_("last call"), ordering="last_call_outcome")
    def last_outcome(self, obj: Lead) -> str:
        return dict(CallAttempt.Outcome.choices).get(obj.last_call_outcome, obj.last_call_outcome) or "—"

    @admin.display(description=_("next call"), ordering="scheduled_at")
    def next_call(self, obj: Lead) -> str:
        if obj.call_state != Lead.StepState.PENDING or obj.scheduled_at is None or not obj.is_open:
            return "—"
        return date_format(timezone.localtime(obj.scheduled_at), "Y-m-d H:i")

    @admin.display(description=_("calls"))
    def tries(self, obj: Lead) -> int:
        return getattr(obj, "dials", None) or 0

    @admin.display(description=_("manual handling reason"))
    def reason(self, obj: Lead) -> str:
        return obj.manual_reason_text or "—"

    @admin.display(description=_("Bitrix24 lead id"))
    def bitrix_lead(self, obj: Lead) -> str:
        url = bitrix_lead_url(obj.bitrix_lead_id)
        if url:
            return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, obj.bitrix_lead_id)
        return str(obj.bitrix_lead_id or "—")

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
                           message=text("edited", fields=", ".join(form.changed_data)))


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
    """Leads that need a person, newest first (with the order at stake): what to do next, at a glance."""

    list_display = ("manual_since", "waited", "reason", "lead_link", "name", "order", "site", "partner",
                    "assigned_to")
    list_display_links = None
    list_filter = (ReasonFilter, "site", "partner", "assigned_to", "created_at")
    list_select_related = ("site", "partner", "assigned_to")
    search_fields = ("=phone", "phone_raw", "name", "=ref", "=bitrix_lead_id")
    ordering = ("-manual_since", "-id")  # newest first: the one whose visitor still remembers the form
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=Lead.Status.MANUAL)

    @admin.display(description=_("phone"))
    def lead_link(self, obj: Lead) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:leads_lead_change", args=[obj.pk]), obj.phone)

    @admin.display(description=_("order"), ordering="order_amount")
    def order(self, obj: Lead) -> str:
        return order_label(obj)

    @admin.display(description=_("reason"))
    def reason(self, obj: Lead) -> str:
        return obj.manual_reason_text

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
