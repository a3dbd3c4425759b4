"""Sites, partners, leads and the lead timeline."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _new_intake_key() -> str:
    return secrets.token_urlsafe(24)


def _new_widget_key() -> str:
    return "pk_" + secrets.token_urlsafe(12)


# What a site's form field mapping may name (leads/builders.py): our field -> the posted field's name.
FORM_MAP_FIELDS = ("phone", "name", "email", "comment", "order_amount", "consent", "submission_id")


def _validate_form_field_map(value: object) -> None:
    if not isinstance(value, dict):
        raise ValidationError(_('A JSON object such as {"phone": "Ваш телефон", "order_amount": "total"}.'))
    unknown = [key for key in value if key not in FORM_MAP_FIELDS]
    if unknown:
        raise ValidationError(_("Unknown fields %(fields)s; known: %(known)s."),
                              params={"fields": ", ".join(map(str, unknown)), "known": ", ".join(FORM_MAP_FIELDS)})
    if not all(isinstance(name, str) and name.strip() and len(name) <= 200 for name in value.values()):
        raise ValidationError(_("Each value is the name of a posted field (text, at most 200 characters)."))


def _validate_calling_hours(value: str) -> None:
    from telephony.calling_hours import CallingHoursError, parse_calling_hours

    if value:
        try:
            parse_calling_hours(value)
        except CallingHoursError as exc:
            raise ValidationError(str(exc)) from exc


def _validate_time_zone(value: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("%(value)s is not a time zone name."), params={"value": value}) from None


def _validate_caller_id(value: str) -> None:
    from telephony.caller_id import CallerIdError, caller_id_normalize

    try:
        caller_id_normalize(value, region=settings.PHONE_REGION)
    except CallerIdError as exc:
        message = (_("%(value)s reads as two different numbers: write it with a + and the country code.")
                   if exc.ambiguous else _("%(value)s is not a phone number: use digits with the country code, "
                                           "e.g. 74951234567."))
        raise ValidationError(message, params={"value": value}) from None


def _default_cadence() -> str:
    from telephony.cadence import DEFAULT_CADENCE

    return DEFAULT_CADENCE


def _validate_cadence(value: str) -> None:
    from telephony.cadence import CadenceError, parse_cadence

    if value:
        try:
            parse_cadence(value)
        except CadenceError as exc:
            raise ValidationError(str(exc)) from None


def _validate_number_types(value: str) -> None:
    from leads.phones import NUMBER_TYPES

    unknown = [code for code in split_codes(value) if code not in NUMBER_TYPES]
    if unknown:
        raise ValidationError(_("Unknown kinds of numbers: %(codes)s."), params={"codes": ", ".join(unknown)})


def _validate_opt_out_digit(value: str) -> None:
    from telephony.disclosure import CALLBACK_DIGIT, KEYS

    if value not in KEYS:
        raise ValidationError(_("The opt-out key is one of the phone's keys: 0-9, * or #."))
    if value == CALLBACK_DIGIT:
        raise ValidationError(_("%(key)s already asks for a call back; choose another opt-out key."),
                              params={"key": value})


class VoicemailAction(models.TextChoices):
    HANG_UP = "hang_up", _("hang up")
    MESSAGE = "message", _("leave the call's recording after the beep")
    RECORDING = "recording", _("leave the voicemail recording after the beep")


class OptOutScope(models.TextChoices):
    ALL = "all", _("every site")
    SITE = "site", _("this site only")


def split_codes(text: str) -> list[str]:
    """`mobile, fixed_line` -> ["mobile", "fixed_line"]."""
    return [code.strip().lower() for code in text.split(",") if code.strip()]


def _validate_dates(value: str) -> None:
    try:
        parse_dates(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def parse_dates(text: str) -> frozenset:
    """`2026-12-31, 2027-01-01` (commas, spaces or new lines) -> a set of dates."""
    import datetime as dt

    dates = set()
    for item in text.replace(",", " ").split():
        try:
            dates.add(dt.date.fromisoformat(item))
        except ValueError:
            raise ValueError(f"{item!r} is not a date like 2026-12-31.") from None
    return frozenset(dates)


class CallMode(models.TextChoices):
    RECORDING = "recording", _("play the recording")
    OFFER = "offer", _("play the recording, then offer a manager (press 1)")
    SELLER_FIRST = "seller_first", _("call a seller first, then the lead")


class SellerRouting(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("round robin")
    LEAST_RECENT = "least_recent", _("least recently called")
    CRM_OWNER = "crm_owner", _("the Bitrix24 responsible user first")


class RingStrategy(models.TextChoices):
    SEQUENTIAL = "sequential", _("one after another")
    SIMULTANEOUS = "simultaneous", _("several at once")


class SellerFirstFallback(models.TextChoices):
    OFFER = "offer", _("call the lead and offer a manager")
    RECORDING = "recording", _("call the lead and play the recording")


class Site(models.Model):
    """A shop's website whose form sends leads. Blank settings fall back to the global ones."""

    domain = models.CharField(_("domain"), max_length=253, unique=True, help_text=_("e.g. shop.example, without www."))
    name = models.CharField(_("name"), max_length=200)
    is_default = models.BooleanField(
        _("default site"), default=False, help_text=_("Receives leads from unknown domains (UNKNOWN_SITES=store or accept).")
    )
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, validators=[_validate_time_zone])
    calling_hours = models.CharField(
        _("calling hours"), max_length=200, blank=True, validators=[_validate_calling_hours],
        help_text=_("Days and windows, e.g. 'mon-fri 09:00-20:00; sat 10:00-16:00'. Blank: CALLING_HOURS."),
    )
    phone_region = models.CharField(_("phone region"), max_length=2, blank=True, help_text=_("Blank: PHONE_REGION."))
    non_calling_dates = models.TextField(
        _("days without calls"), blank=True, validators=[_validate_dates],
        help_text=_("Dates (YYYY-MM-DD) on which nobody is called, separated by commas or new lines."),
    )
    currency = models.CharField(_("order currency"), max_length=3, default="RUB")
    telegram_chat = models.ForeignKey("notifications.TelegramChat", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+", verbose_name=_("Telegram chat"),
                                      help_text=_("Blank: TELEGRAM_CHAT_ID."))
    bitrix_source_id = models.CharField(_("Bitrix24 source"), max_length=50, default="WEB",
                                        help_text=_("SOURCE_ID of the leads created in Bitrix24."))
    bitrix_assigned_by_id = models.PositiveIntegerField(_("Bitrix24 responsible user id"), null=True, blank=True)
    bitrix_status_map = models.JSONField(
        _("Bitrix24 status by call outcome"), default=dict, blank=True,
        help_text=_('e.g. {"human": "IN_PROCESS", "failed": "JUNK"}; outcomes not named leave the status alone.'),
    )
    intake_key = models.CharField(_("intake key"), max_length=64, default=_new_intake_key, unique=True)
    require_key = models.BooleanField(
        _("require intake key"), default=False,
        help_text=_("Refuse posts without the key (server-to-server integrations)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Form builders and the widget (docs/forms.md)
    form_field_map = models.JSONField(
        _("form field mapping"), default=dict, blank=True, validators=[_validate_form_field_map],
        help_text=_('Which posted field is which, for a form builder whose names we do not know, e.g. '
                    '{"phone": "Ваш телефон", "name": "fio_client", "order_amount": "total", '
                    '"submission_id": "entry_id"}. Names are matched ignoring case.'))
    widget_key = models.CharField(
        _("widget key"), max_length=32, default=_new_widget_key, unique=True,
        help_text=_("Public: names the site in the callback widget's snippet. It cannot post as the site."))

    # Calling (blank or empty: the global settings)
    call_rule_id = models.CharField(_("VoxImplant rule id"), max_length=32, blank=True,
                                    help_text=_("Blank: VOXIMPLANT_RULE_ID."))
    caller_id = models.CharField(
        _("caller id"), max_length=32, blank=True, validators=[_validate_caller_id],
        help_text=_("A number VoxImplant rents to you or has verified, with the country code, e.g. 74951234567. "
                    "Blank: VOXIMPLANT_CALLER_ID."))
    recording_url = models.URLField(_("recording URL"), max_length=500, blank=True,
                                    help_text=_("An mp3/wav played to the person who answers."))
    tts_text = models.TextField(_("spoken text"), max_length=1500, blank=True,
                                help_text=_("Spoken when there is no recording (or it cannot be played)."))
    tts_voice = models.CharField(_("voice"), max_length=64, blank=True,
                                 help_text=_("A VoxEngine VoiceList name, e.g. YandexV3.ru_RU_alena."))
    amd_model = models.CharField(_("answering machine model"), max_length=16, default="ru")
    # Played before the message on every call (telephony/disclosure.py).
    disclosure_url = models.URLField(
        _("disclosure recording URL"), max_length=500, blank=True,
        help_text=_("An mp3/wav played first on every call: who calls, that the call is automated, and which "
                    "key stops further calls. Blank: the disclosure text is spoken."))
    disclosure_text = models.TextField(
        _("disclosure text"), max_length=1000, blank=True,
        help_text=_("Spoken first when there is no disclosure recording. Blank: a standard text naming the site "
                    "and the opt-out key."))
    opt_out_digit = models.CharField(
        _("opt-out key"), max_length=1, default="9", validators=[_validate_opt_out_digit],
        help_text=_("The key a person presses, during or right after the message, not to be called again."))
    opt_out_scope = models.CharField(
        _("opt-out applies to"), max_length=8, choices=OptOutScope.choices, default=OptOutScope.ALL,
        help_text=_("Where a number is no longer called after its owner pressed the opt-out key."))
    call_allowed_regions = models.CharField(_("regions that may be called"), max_length=100, blank=True,
                                            help_text=_("Two-letter codes, comma separated. Blank: CALL_ALLOWED_REGIONS."))
    call_number_types = models.CharField(
        _("kinds of numbers that may be called"), max_length=200, blank=True, validators=[_validate_number_types],
        help_text=_("None ticked: CALL_NUMBER_TYPES (mobile and fixed line). Premium-rate numbers are never called."))
    call_daily_budget = models.PositiveIntegerField(_("calls per day"), null=True, blank=True,
                                                    help_text=_("0: no limit. Blank: CALL_DAILY_BUDGET."))
    call_max_per_number = models.PositiveIntegerField(_("calls per number per day"), null=True, blank=True,
                                                      help_text=_("Blank: CALL_MAX_PER_NUMBER."))
    # Calls of a lead not reached (telephony/cadence.py): delays between calls, per outcome of the last call.
    call_cadence = models.CharField(
        _("call cadence (no answer)"), max_length=300, default=_default_cadence, validators=[_validate_cadence],
        help_text=_("Delays before each call, comma separated: 0 (the first call, at once), 5m, 2h, 1d, "
                    "next day 10:00, +2d 17:00. The number of items is the number of calls. Each call still "
                    "waits for the calling hours and the lead's local window."))
    call_cadence_busy = models.CharField(
        _("call cadence after busy"), max_length=300, blank=True, validators=[_validate_cadence],
        help_text=_("Blank: the cadence above."))
    call_cadence_voicemail = models.CharField(
        _("call cadence after voicemail"), max_length=300, blank=True, validators=[_validate_cadence],
        help_text=_("Blank: the cadence above."))
    voicemail_action = models.CharField(
        _("on voicemail"), max_length=12, choices=VoicemailAction.choices, default=VoicemailAction.HANG_UP,
        help_text=_("What the call does when an answering machine answers (detected by the scenario)."))
    voicemail_url = models.URLField(
        _("voicemail recording URL"), max_length=500, blank=True,
        help_text=_("An mp3/wav left after the beep when \"leave the voicemail recording\" is chosen."))
    retention_days = models.PositiveIntegerField(
        _("keep personal data, days"), null=True, blank=True,
        help_text=_("Leads older than this lose their personal data (the figures stay). 0: kept. "
                    "Blank: DATA_RETENTION_DAYS."))
    skip_holidays = models.BooleanField(
        _("no calls on public holidays"), null=True, blank=True,
        choices=[(None, _("as SKIP_HOLIDAYS")), (True, _("yes: skip them")), (False, _("no: call on holidays too"))],
        help_text=_("The public holidays of the country of the lead's number."))

    # Consent and privacy (docs/compliance.md)
    consent_required = models.BooleanField(
        _("consent required"), null=True, blank=True,
        choices=[(None, _("as CONSENT_REQUIRED says")), (True, _("required")), (False, _("not required"))],
        help_text=_("A lead without the visitor's consent is refused (422) and not stored."))
    telegram_full_phone = models.BooleanField(
        _("full phone numbers in Telegram"), default=False,
        help_text=_("Off: Telegram cards show +7 ••• •••-12-34. The admin always shows the whole number."))

    # A seller on the line (sellers/, docs/operations.md "Sellers on the line")
    call_mode = models.CharField(_("call mode"), max_length=12, choices=CallMode.choices, default=CallMode.RECORDING)
    seller_routing = models.CharField(_("which seller first"), max_length=12, choices=SellerRouting.choices,
                                      default=SellerRouting.ROUND_ROBIN)
    ring_strategy = models.CharField(_("ringing sellers"), max_length=12, choices=RingStrategy.choices,
                                     default=RingStrategy.SEQUENTIAL)
    seller_ring_seconds = models.PositiveSmallIntegerField(
        _("ring each seller, s"), default=20, validators=[MinValueValidator(5), MaxValueValidator(120)])
    seller_wait_seconds = models.PositiveSmallIntegerField(
        _("wait for a seller, s"), default=60, validators=[MinValueValidator(10), MaxValueValidator(300)],
        help_text=_("No seller took the call by then: the lead hears the callback promise."))
    callback_promise_minutes = models.PositiveSmallIntegerField(
        _("call back within, minutes"), default=15, validators=[MinValueValidator(1), MaxValueValidator(1440)])
    seller_first_fallback = models.CharField(
        _("no seller free (seller first)"), max_length=12, choices=SellerFirstFallback.choices,
        default=SellerFirstFallback.OFFER)
    record_calls = models.BooleanField(_("record calls"), default=False,
                                       help_text=_("The recording is linked from the lead, Telegram and Bitrix24."))

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="site_single_default"),
        ]

    def __str__(self) -> str:
        return self.name or self.domain

    def clean(self) -> None:
        from telephony.caller_id import CallerIdError, caller_id_normalize

        try:  # kept the way VoxEngine takes it; a bad value was reported by the field's validator
            self.caller_id = caller_id_normalize(self.caller_id, region=settings.PHONE_REGION)
        except CallerIdError:
            pass


class Partner(models.Model):
    """A partner who brings leads; mirrors a company in Bitrix24."""

    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=64, unique=True)
    bitrix_company_id = models.PositiveBigIntegerField(_("Bitrix24 company id"), null=True, blank=True, unique=True)
    synced_at = models.DateTimeField(_("synced from Bitrix24"), null=True, blank=True)
    telegram_chat = models.ForeignKey("notifications.TelegramChat", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+", verbose_name=_("Telegram chat"),
                                      help_text=_("Leads of this partner go to this chat instead of the site's."))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartnerRule(models.Model):
    """One value that identifies a partner: a utm_source, or a referral code sent as `partner`."""

    class Kind(models.TextChoices):
        UTM_SOURCE = "utm_source", _("utm_source value")
        REFERRAL = "referral", _("partner code in a form field, cookie or query parameter")

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=200, help_text=_("Matched case-insensitively."))

    class Meta:
        verbose_name = _("partner rule")
        verbose_name_plural = _("partner rules")
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="partner_rule_unique_value")]

    def save(self, *args, **kwargs) -> None:
        self.value = self.value.strip().lower()
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class Lead(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("in progress")
        SCHEDULED = "scheduled", _("scheduled")
        MANUAL = "manual", _("manual handling")
        REACHED = "reached", _("reached")
        HANDLED = "handled", _("handled by a person")
        SPAM = "spam", _("spam or invalid")
        # The person pressed the opt-out key, or the number was on the do-not-call list: never called.
        OPTED_OUT = "opted_out", _("opted out")

    # A lead in one of these holds its ref: a second copy is refused until it finishes.
    OPEN_STATUSES = (Status.IN_PROGRESS, Status.SCHEDULED, Status.MANUAL)

    class StepState(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        SKIPPED = "skipped", _("skipped")
        FAILED = "failed", _("failed")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    ref = models.CharField(_("ref"), max_length=200)
    # No index of its own on site or partner: lead_site_created and lead_partner_created lead with them.
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="leads", db_index=False,
                             verbose_name=_("site"))
    site_unknown = models.BooleanField(_("unknown site"), default=False, help_text=_("Came from an unknown domain."))
    partner = models.ForeignKey(
        Partner, on_delete=models.SET_NULL, null=True, blank=True, related_name="leads", db_index=False,
        verbose_name=_("partner"),
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    phone_raw = models.CharField(_("phone as entered"), max_length=64)
    phone = models.CharField(_("phone (E.164)"), max_length=20)
    email = models.EmailField(_("email"), blank=True)
    comment = models.TextField(_("comment"), blank=True)
    order_amount = models.DecimalField(_("order amount"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    extra = models.JSONField(_("extra fields"), default=dict, blank=True)
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)
    raw_request = models.JSONField(_("request as received"), default=dict, blank=True)

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    manual_reason = models.CharField(_("manual handling reason"), max_length=300, blank=True)
    manual_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    # The reason as a code of leads/texts.py and its parameters, rendered in the viewer's language;
    # `manual_reason` keeps the English sentence (and is all that rows from before codes have).
    manual_code = models.CharField(max_length=40, blank=True)
    manual_params = models.JSONField(default=dict, blank=True)
    opt_out_reason = models.CharField(_("why not called"), max_length=300, blank=True,
                                      help_text=_("For an opted-out lead: the key press, or the do-not-call entry."))
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", db_index=False, verbose_name=_("taken by"))
    # Planned calls a person skipped (telephony/cadence.py): the cadence goes on from the call after them.
    call_skips = models.PositiveSmallIntegerField(_("calls skipped"), default=0)
    call_ignore_hours = models.BooleanField(
        default=False, help_text=_("A person asked for the next call now, outside calling hours."))
    created_at = models.DateTimeField(_("received"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    # Pipeline steps (leads/pipeline.py). `*_due_at`: when a worker should next look at the step
    # (for a running step, when its lease ends); null when nothing is owed. The call step's is
    # `scheduled_at`. `*_tries`: claims so far. `*_queued_at`: when its last message was sent.
    crm_state = models.CharField(max_length=8, choices=StepState.choices, default=StepState.PENDING)
    crm_due_at = models.DateTimeField(null=True, blank=True)
    crm_tries = models.PositiveSmallIntegerField(default=0)
    crm_queued_at = models.DateTimeField(null=True, blank=True)
    # CRM: the Bitrix24 lead; when an add that got no sure answer was sent (it may still take effect
    # until the portal's execution cap has passed: leads/crm_leads.py); the last call attempt written
    # back; a call outcome waiting.
    bitrix_lead_id = models.PositiveBigIntegerField(_("Bitrix24 lead id"), null=True, blank=True)
    crm_sent_at = models.DateTimeField(null=True, blank=True)
    crm_synced_attempt = models.PositiveIntegerField(default=0)
    crm_resync = models.BooleanField(default=False)
    crm_opt_out_written = models.BooleanField(default=False)  # the "do not call" comment is in Bitrix24
    call_state = models.CharField(max_length=8, choices=StepState.choices, default=StepState.PENDING)
    scheduled_at = models.DateTimeField(_("call scheduled at"), null=True, blank=True)
    call_tries = models.PositiveSmallIntegerField(default=0)
    call_queued_at = models.DateTimeField(null=True, blank=True)
    notify_state = models.CharField(max_length=8, choices=StepState.choices, default=StepState.PENDING)
    notify_due_at = models.DateTimeField(null=True, blank=True)
    notify_tries = models.PositiveSmallIntegerField(default=0)
    notify_queued_at = models.DateTimeField(null=True, blank=True)
    # Kept by the call step for the dashboard (dashboard/stats.py), so its figures need no join
    # over call attempts: when the first attempt was written, and the outcome of the latest
    # attempt that has one.
    first_dial_at = models.DateTimeField(_("first dialled"), null=True, blank=True)
    last_call_outcome = models.CharField(_("last call outcome"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created_at"]
        permissions = [("handle_lead", _("Can handle leads by hand"))]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "ref"], condition=Q(status__in=["in_progress", "scheduled", "manual"]),
                name="lead_one_open_per_ref",
            ),
        ]
        indexes = [
            # On PostgreSQL dashboard_lead_cover, on the same key, takes its place (dashboard/migrations/0006).
            models.Index(fields=["created_at"], name="lead_created"),
            models.Index(fields=["site", "created_at"], name="lead_site_created"),
            models.Index(fields=["partner", "created_at"], name="lead_partner_created"),
            models.Index(fields=["status", "created_at"], name="lead_status_created"),
            # The needs-attention queue: manual leads, oldest first.
            models.Index(fields=["manual_since"], condition=Q(status="manual"), name="lead_manual_queue"),
            models.Index(fields=["phone"], name="lead_phone"),
            # Columns that stay empty for most leads, or for most of a lead's writes, are indexed where set:
            # each index a lead's row is in costs every one of the dozen writes a lead makes.
            models.Index(fields=["bitrix_lead_id"], condition=Q(bitrix_lead_id__isnull=False), name="lead_bitrix_lead"),
            models.Index(fields=["assigned_to"], condition=Q(assigned_to__isnull=False), name="lead_assigned_to"),
            # The sweeper's look-ups: only open steps are indexed.
            models.Index(fields=["crm_due_at"], condition=Q(crm_state__in=["pending", "running"]), name="lead_crm_due"),
            models.Index(fields=["scheduled_at"], condition=Q(call_state__in=["pending", "running"]), name="lead_call_due"),
            models.Index(
                fields=["notify_due_at"], condition=Q(notify_state__in=["pending", "running"]), name="lead_notify_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.phone} ({self.site})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def manual_reason_text(self) -> str:
        """The manual-handling reason in the active language."""
        from leads.texts import message_render, text_render

        if self.manual_code:
            return text_render(self.manual_code, self.manual_params, fallback=self.manual_reason)
        return message_render(self.manual_reason)


class SubmissionKey(models.Model):
    """A form builder's own id of one submission (Tilda's `tranid`): a repeat of it answers with the
    lead it made and changes nothing. Kept SUBMISSION_KEY_DAYS (leads/builders.py)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    lead = models.ForeignKey("Lead", on_delete=models.CASCADE, related_name="submission_keys")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "key"], name="submission_key_unique")]

    def __str__(self) -> str:
        return self.key


class LeadEvent(models.Model):
    """Append-only timeline: what happened to a lead, and why."""

    class Kind(models.TextChoices):
        RECEIVED = "received", _("received")
        DUPLICATE = "duplicate", _("duplicate refused")
        STEP_STARTED = "step_started", _("step started")
        STEP_DONE = "step_done", _("step done")
        STEP_SKIPPED = "step_skipped", _("step skipped")
        STEP_RETRY = "step_retry", _("step will retry")
        STEP_LATER = "step_later", _("step scheduled")
        CALL_RESULT = "call_result", _("call result")
        STEP_FAILED = "step_failed", _("step failed")
        MANUAL = "manual", _("sent to manual handling")
        STATUS = "status", _("status changed")
        NOTE = "note", _("note")

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events", db_index=False)  # leadevent_lead_at
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    step = models.CharField(_("step"), max_length=8, blank=True)
    message = models.CharField(_("message"), max_length=500, blank=True)
    # The message as a code of leads/texts.py and its parameters (blank for old-style rows).
    code = models.CharField(max_length=40, blank=True)
    params = models.JSONField(default=dict, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, db_index=False, verbose_name=_("by")
    )

    class Meta:
        verbose_name = _("lead event")
        verbose_name_plural = _("lead events")
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["lead", "at"], name="leadevent_lead_at"),
            # Most entries are the pipeline's own: only those a person made are indexed by who.
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="leadevent_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"

    @property
    def text(self) -> str:
        """The entry in the active language, in plain words."""
        from leads.texts import message_render, text_render

        if self.code:
            return text_render(self.code, self.params, fallback=self.message)
        if self.kind == self.Kind.CALL_RESULT:  # old rows: "<outcome label>: <scenario detail>"
            label, _sep, detail = self.message.partition(": ")
            return text_render("call_result_detail", {"outcome": _outcome_code(label), "detail": detail},
                               fallback=self.message)
        return message_render(self.message)


def _outcome_code(label: str) -> str:
    """`answered by a person` (as the worker wrote it, in English) -> `human`."""
    from django.utils import translation

    from telephony.models import CallAttempt

    with translation.override("en"):
        return {str(name): value for value, name in CallAttempt.Outcome.choices}.get(label, label)


class IntakeCounter(models.Model):
    """Counts of posts that left no lead behind (duplicates, honeypot hits, throttled...), per quarter hour.

    Quarter hours (in UTC) add up to a day in any time zone, including those 30 or 45 minutes off
    the hour, so the dashboard counts each day in the site's or the user's zone.
    """

    class Kind(models.TextChoices):
        DUPLICATE = "duplicate", _("duplicate")
        HONEYPOT = "honeypot", _("honeypot")
        THROTTLED = "throttled", _("too many for one number")
        THROTTLED_IP = "throttled_ip", _("too many from one address")
        THROTTLED_SITE = "throttled_site", _("too many with one site's key")
        TOO_MANY_OPS = "too_many_ops", _("too many leads in one post")
        UNKNOWN_SITE = "unknown_site", _("unknown site refused")
        NO_CONSENT = "no_consent", _("no consent where required")

    slot = models.DateTimeField(_("quarter hour from"))
    site = models.ForeignKey(Site, on_delete=models.CASCADE, null=True, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("intake counter")
        verbose_name_plural = _("intake counters")
        constraints = [
            models.UniqueConstraint(fields=["slot", "site", "kind"], name="intake_counter_slot_unique"),
            models.UniqueConstraint(fields=["slot", "kind"], condition=Q(site=None),
                                    name="intake_counter_slot_unique_nosite"),
        ]

    @classmethod
    def slot_of(cls, moment: datetime) -> datetime:
        """The start of the quarter hour holding `moment`, in UTC."""
        moment = moment.astimezone(dt_timezone.utc)
        return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


class RateBucket(models.Model):
    """A shared token bucket when there is no Redis (see leads/ratelimit.py)."""

    key = models.CharField(max_length=200, unique=True)
    tokens = models.FloatField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("rate bucket")
        verbose_name_plural = _("rate buckets")


class RateMark(models.Model):
    """A moment every worker must know about a remote, when there is no Redis (leads/ratelimit.py):
    e.g. Bitrix24 refuses a method until then, or said it frees part of the method's budget then."""

    key = models.CharField(max_length=200, unique=True)
    until = models.DateTimeField()

    class Meta:
        verbose_name = _("rate mark")
        verbose_name_plural = _("rate marks")


class BitrixAuth(models.Model):
    """OAuth tokens of the Bitrix24 application (one row per portal). Refreshed under a row lock."""

    member_id = models.CharField(_("portal member id"), max_length=64, unique=True)
    domain = models.CharField(_("portal domain"), max_length=253)
    client_endpoint = models.URLField(_("REST endpoint"), max_length=300)
    access_token = models.CharField(max_length=200)
    refresh_token = models.CharField(max_length=200)
    expires_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("Bitrix24 connection")
        verbose_name_plural = _("Bitrix24 connections")

    def __str__(self) -> str:
        return self.domain


class ManualLead(Lead):
    """The needs-attention queue in the admin: leads in manual handling, newest first."""

    class Meta:
        proxy = True
        verbose_name = _("lead needing attention")
        verbose_name_plural = _("needs attention")


class Erasure(models.Model):
    """The audit of erasures of personal data (leads/erasure.py): one person's, on request, or a run of the
    retention task. It keeps no number in clear: a request's number only as the do-not-call list's hash."""

    class Kind(models.TextChoices):
        REQUEST = "request", _("on the person's request")
        RETENTION = "retention", _("retention period over")

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    phone_hash = models.CharField(_("number's hash"), max_length=64, blank=True, db_index=True,
                                  help_text=_("For a request: the keyed hash of the number, as on the do-not-call "
                                              "list."))
    leads = models.PositiveIntegerField(_("leads erased"), default=0)
    dnc_entries = models.PositiveIntegerField(_("do-not-call entries reduced to the hash"), default=0)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                             verbose_name=_("by"))
    username = models.CharField(_("by (name)"), max_length=150, help_text=_("Kept when the user is deleted."))
    note = models.CharField(_("note"), max_length=300, blank=True, help_text=_("e.g. the request's reference."))

    class Meta:
        verbose_name = _("erasure of personal data")
        verbose_name_plural = _("erasures of personal data")
        ordering = ["-at", "-id"]
        permissions = [("erase_personal_data", _("Can erase a person's personal data"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.at:%Y-%m-%d %H:%M})"


class IntegrationCheck(models.Model):
    """One use of a button on the admin's Integrations page: who, when, what was tried, what came back."""

    class Provider(models.TextChoices):
        BITRIX = "bitrix24", "Bitrix24"
        VOXIMPLANT = "voximplant", "VoxImplant"
        TELEGRAM = "telegram", "Telegram"

    class Action(models.TextChoices):
        CHECK = "check", _("check of the credentials")
        TEST_MESSAGE = "test_message", _("test message")
        TEST_CALL = "test_call", _("test call")

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                             verbose_name=_("by"))
    username = models.CharField(_("user name"), max_length=150, help_text=_("Kept when the user is deleted."))
    provider = models.CharField(_("provider"), max_length=16, choices=Provider.choices)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    target = models.CharField(_("chat or number"), max_length=100, blank=True)
    ok = models.BooleanField(_("worked"))
    result = models.TextField(_("result"), max_length=2000)

    class Meta:
        verbose_name = _("integration check")
        verbose_name_plural = _("integration checks")
        ordering = ["-at", "-id"]
        permissions = [("test_integrations", _("Can try the provider connections and place test calls"))]

    def __str__(self) -> str:
        return f"{self.get_provider_display()}: {self.get_action_display()}"
