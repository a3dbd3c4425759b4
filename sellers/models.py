"""Sellers (the people a lead is put through to) and the offers of a call to them.

A seller is claimed for one call attempt at a time by a conditional UPDATE with a lease
(`claimed_until`): two leads racing never get the same seller, and a claim whose result never
came expires by itself.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from sellers.hours import WorkingHoursError, parse_working_hours


def _validate_phone(value: str) -> None:
    import phonenumbers

    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if (number is None or not value.startswith("+") or not phonenumbers.is_valid_number(number)
            or phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != value):
        raise ValidationError(_("Enter the number in E.164 form, e.g. +79991234567."))


def _validate_hours(value: str) -> None:
    try:
        parse_working_hours(value)
    except WorkingHoursError as exc:
        raise ValidationError(str(exc)) from exc


def _validate_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("%(zone)s is not a time zone, e.g. Europe/Moscow.") % {"zone": value}) from None


class Seller(models.Model):
    name = models.CharField(_("name"), max_length=200)
    phone = models.CharField(_("phone (E.164)"), max_length=20, validators=[_validate_phone])
    telegram_user = models.CharField(_("Telegram user"), max_length=64, blank=True,
                                     help_text=_("@username or numeric id; optional."))
    sites = models.ManyToManyField("leads.Site", blank=True, related_name="sellers", verbose_name=_("sites"),
                                   help_text=_("The sites whose leads this seller takes."))
    partners = models.ManyToManyField("leads.Partner", blank=True, related_name="sellers",
                                      verbose_name=_("partners"),
                                      help_text=_("Also takes the leads of these partners, from any site."))
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Moscow", validators=[_validate_zone])
    working_hours = models.CharField(
        _("working hours"), max_length=200, default="mon-fri 09:00-18:00", validators=[_validate_hours],
        help_text=_("In the seller's time zone, e.g. 'mon-fri 09:00-18:00; sat 22:00-06:00' "
                    "(a window may cross midnight)."))
    is_active = models.BooleanField(_("active"), default=True)
    on_break = models.BooleanField(_("on a break"), default=False, help_text=_("Not offered calls while set."))
    bitrix_user_id = models.PositiveIntegerField(
        _("Bitrix24 user id"), null=True, blank=True, unique=True,
        help_text=_("The ASSIGNED_BY_ID of this seller in Bitrix24: made responsible for the leads they talk to."))
    claimed_until = models.DateTimeField(_("on a call until"), null=True, blank=True, editable=False)
    claimed_by = models.ForeignKey("telephony.CallAttempt", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", editable=False)
    last_offered_at = models.DateTimeField(_("last offered a call"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("seller")
        verbose_name_plural = _("sellers")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class SellerOffer(models.Model):
    """One seller offered one call: who was chosen, why, and what came of it."""

    class Reason(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("next in turn (round robin)")
        LEAST_RECENT = "least_recent", _("least recently called")
        CRM_OWNER = "crm_owner", _("responsible for the lead in Bitrix24")

    class Result(models.TextChoices):
        RINGING = "ringing", _("offered")
        CONNECTED = "connected", _("talked to the lead")
        MISSED = "missed", _("did not take the call")

    attempt = models.ForeignKey("telephony.CallAttempt", on_delete=models.CASCADE, related_name="seller_offers")
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="offers", verbose_name=_("seller"))
    reason = models.CharField(_("why chosen"), max_length=16, choices=Reason.choices)
    result = models.CharField(_("result"), max_length=10, choices=Result.choices, default=Result.RINGING)
    offered_at = models.DateTimeField(_("offered"), auto_now_add=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    time_to_answer = models.PositiveIntegerField(_("time to answer, s"), null=True, blank=True)
    talk_time = models.PositiveIntegerField(_("talk time, s"), null=True, blank=True)

    class Meta:
        verbose_name = _("call offered to a seller")
        verbose_name_plural = _("calls offered to sellers")
        ordering = ["-offered_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["attempt", "seller"], name="selleroffer_once_per_attempt")]
        indexes = [models.Index(fields=["seller", "offered_at"], name="selleroffer_seller_offered")]

    def __str__(self) -> str:
        return f"{self.seller} · {self.get_result_display()}"
