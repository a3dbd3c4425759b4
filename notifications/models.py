"""Telegram destinations and every message we send or edit there."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class TelegramChat(models.Model):
    """A chat the bot writes to. Marked broken when Telegram refuses it (not found, blocked, kicked)."""

    chat_id = models.CharField(_("chat id"), max_length=64, unique=True,
                               help_text=_("A number (groups are negative) or @channelname."))
    title = models.CharField(_("name"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="ru")
    is_broken = models.BooleanField(_("broken"), default=False)
    broken_reason = models.CharField(_("why broken"), max_length=300, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("Telegram chat")
        verbose_name_plural = _("Telegram chats")

    def __str__(self) -> str:
        return self.title or self.chat_id

    @property
    def is_group(self) -> bool:
        return self.chat_id.startswith(("-", "@"))


class Notification(models.Model):
    """One Telegram message, written before it is sent: the done-marker and the delivery log.

    A card is edited in place as its lead progresses: `version` counts changes, `sent_version`
    the change the message in Telegram shows.
    """

    class Kind(models.TextChoices):
        CARD = "card", _("lead card")
        ALERT = "alert", _("manual-handling alert")
        DIGEST = "digest", _("digest of new leads")

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting to be sent")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        DIGESTED = "digested", _("sent in a digest")
        FAILED = "failed", _("failed")

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="notifications")
    chat = models.ForeignKey(TelegramChat, on_delete=models.PROTECT, related_name="notifications",
                             db_index=False)  # notification_chat_status leads with it
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(_("reason"), max_length=300, blank=True, help_text=_("For an alert: why."))
    version = models.PositiveIntegerField(default=1)
    sent_version = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    message_id = models.BigIntegerField(_("Telegram message id"), null=True, blank=True)
    digest = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="cards",
                               db_index=False)
    text = models.TextField(_("text as sent"), blank=True)
    # A fingerprint of the text, parse mode and buttons Telegram shows: an edit that would change
    # nothing is never sent (notifications/services.py, content_digest).
    sent_digest = models.CharField(max_length=64, blank=True, default="")
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["lead"], condition=Q(kind="card"), name="notification_one_card_per_lead"),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status__in=["pending", "sending"]), name="notification_due"),
            models.Index(fields=["chat", "status"], name="notification_chat_status"),
            # Only cards that went out in a digest point at one.
            models.Index(fields=["digest"], condition=Q(digest__isnull=False), name="notification_digest"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.chat}"
