"""Text messages to leads: the per-site settings, and one row per message (the done-marker and the audit)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

PLACEHOLDERS = ("shop", "seller_phone", "link")
DEFAULT_TEMPLATE = "{shop}: we called about your request and could not reach you. Call us back: {seller_phone} {link}"
MAX_TEXT = 1600  # A2PSendSms takes up to 1600 characters (voximplant.com/docs/guides/sms/sending)


def _validate_template(value: str) -> None:
    from messaging.render import TemplateError, template_check

    try:
        template_check(value)
    except TemplateError as exc:
        raise ValidationError(str(exc)) from None


class SiteMessaging(models.Model):
    """A site's follow-up message after a call that did not reach the person. Absent or off: no message."""

    site = models.OneToOneField("leads.Site", on_delete=models.CASCADE, related_name="messaging",
                                verbose_name=_("site"))
    enabled = models.BooleanField(_("send a message after a call that did not reach the person"), default=False)
    after_last = models.BooleanField(_("also after the last call"), default=False,
                                     help_text=_("A second message when the call cadence ends without reaching "
                                                 "the person."))
    template = models.TextField(
        _("message"), max_length=MAX_TEXT, default=DEFAULT_TEMPLATE, validators=[_validate_template],
        help_text=_("Placeholders: {shop}, {seller_phone}, {link}. Up to 1600 characters; over 160 Latin or 70 "
                    "Cyrillic characters it is billed as several messages."))
    shop_name = models.CharField(_("shop name"), max_length=100, blank=True, help_text=_("Blank: the site's name."))
    seller_phone = models.CharField(_("seller's number"), max_length=32, blank=True)
    link = models.URLField(_("link"), max_length=300, blank=True)
    sender = models.CharField(_("sender"), max_length=32, blank=True,
                              help_text=_("The A2P sender (SenderID) VoxImplant installed for the account. "
                                          "Blank: SMS_SENDER."))
    daily_budget = models.PositiveIntegerField(_("messages per day"), default=200,
                                               help_text=_("The site's calendar day. 0: no limit."))

    class Meta:
        verbose_name = _("follow-up message")
        verbose_name_plural = _("follow-up messages")

    def __str__(self) -> str:
        return str(self.site)


class Message(models.Model):
    class Kind(models.TextChoices):
        FIRST_MISS = "first_miss", _("after the first call that did not reach the person")
        LAST_MISS = "last_miss", _("after the last call")

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        DELIVERED = "delivered", _("delivered")
        UNDELIVERED = "undelivered", _("not delivered")
        FAILED = "failed", _("not sent")
        SKIPPED = "skipped", _("not sent (not allowed)")

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="messages", verbose_name=_("lead"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    gateway = models.CharField(_("gateway"), max_length=32, blank=True)
    phone = models.CharField(_("to"), max_length=20)
    text = models.TextField(_("text"), blank=True)
    provider_id = models.CharField(_("provider's id"), max_length=64, blank=True)
    fragments = models.PositiveSmallIntegerField(_("parts"), default=0)
    provider_status = models.CharField(_("provider's status"), max_length=32, blank=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    tries = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True, db_index=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["lead", "kind"], name="message_once_per_lead_kind")]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status__in=["pending", "sending"]), name="message_due"),
            models.Index(fields=["sent_at"], condition=Q(status="sent"), name="message_awaiting_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_status_display()}"
