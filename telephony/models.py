"""Call attempts: one row per dial, written before the provider is asked (the step's done-marker)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CallAttempt(models.Model):
    class Status(models.TextChoices):
        STARTING = "starting", _("starting")  # row written, StartScenarios not yet answered
        STARTED = "started", _("started")  # the provider runs the scenario
        FINISHED = "finished", _("finished")  # the scenario reported a result
        FAILED = "failed", _("failed")  # the provider refused or never started the session
        LOST = "lost", _("no result")  # the watchdog gave up waiting for a result

    class Outcome(models.TextChoices):
        HUMAN = "human", _("answered by a person")
        VOICEMAIL = "voicemail", _("voicemail")
        NO_ANSWER = "no_answer", _("no answer")
        BUSY = "busy", _("busy")
        FAILED = "failed", _("failed")
        OPTED_OUT = "opted_out", _("opted out (pressed the opt-out key)")
        CONNECTED = "connected", _("talked to a seller")
        SELLER_MISSED = "seller_missed", _("asked for a seller, none took the call")

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="call_attempts",
                             db_index=False)  # callattempt_unique_number leads with it
    # The lead's site when it was dialled, kept on the attempt so that a site's daily budget is counted
    # by its own index, not by walking every lead the site ever had (telephony/policy.py).
    site = models.ForeignKey("leads.Site", on_delete=models.CASCADE, related_name="+", db_index=False,
                             verbose_name=_("site"))
    number = models.PositiveSmallIntegerField(_("attempt"), help_text=_("1 for the first dial of this lead."))
    phone = models.CharField(_("phone"), max_length=20)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.STARTING)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    digits = models.CharField(_("keys pressed"), max_length=32, blank=True)
    duration = models.PositiveIntegerField(_("duration, s"), null=True, blank=True)
    session_id = models.BigIntegerField(_("call session history id"), null=True, blank=True)
    media_session_url = models.URLField(_("media session URL"), max_length=500, blank=True)
    custom_data = models.CharField(_("scenario custom data"), max_length=1000, blank=True,
                                   help_text=_("Exactly as sent; GetCallHistory finds the session by it."))
    record_url = models.URLField(_("recording"), max_length=500, blank=True)
    seller = models.ForeignKey("sellers.Seller", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                               db_index=False, verbose_name=_("seller"),
                               help_text=_("Who talked to the lead on this call."))
    seller_connected_at = models.DateTimeField(_("seller joined"), null=True, blank=True)
    talk_time = models.PositiveIntegerField(_("talk time with the seller, s"), null=True, blank=True)
    # Set with the first seller's offer (sellers/routing.py): only such an attempt has sellers to free when it ends.
    sellers_offered = models.BooleanField(_("offered to sellers"), default=False)
    scenario_version = models.PositiveSmallIntegerField(
        _("scenario version"), null=True, blank=True,
        help_text=_("SCENARIO_VERSION of the VoxEngine scenario that reported the result; empty: it sent none."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("call attempt")
        verbose_name_plural = _("call attempts")
        ordering = ["lead", "number"]
        constraints = [models.UniqueConstraint(fields=["lead", "number"], name="callattempt_unique_number")]
        indexes = [
            models.Index(fields=["status", "created_at"], name="callattempt_status_created"),
            models.Index(fields=["phone", "created_at"], name="callattempt_phone_created"),
            models.Index(fields=["site", "created_at"], name="callattempt_site_created"),
            # Set later in an attempt's life, or on few attempts: indexed where set (each write pays for each index).
            models.Index(fields=["session_id"], condition=models.Q(session_id__isnull=False), name="callattempt_session"),
            models.Index(fields=["seller"], condition=models.Q(seller__isnull=False), name="callattempt_seller"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.get_status_display()}"


class ProbeCall(models.Model):
    """The admin's "test call to my phone": our real scenario, placed from the Integrations page to a number
    a person typed, to prove the set-up. It belongs to no lead, so no pipeline step, dashboard figure,
    budget or CRM write ever sees it; the scenario reports to its own callback (telephony/probe_call_api.py)."""

    class Status(models.TextChoices):
        STARTING = "starting", _("starting")
        STARTED = "started", _("started")
        FINISHED = "finished", _("finished")
        FAILED = "failed", _("failed")

    phone = models.CharField(_("phone"), max_length=20)
    caller_id = models.CharField(_("caller id"), max_length=32)
    site = models.ForeignKey("leads.Site", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                             verbose_name=_("site"), help_text=_("Whose rule, caller id and message were used."))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                     related_name="+", verbose_name=_("by"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.STARTING)
    outcome = models.CharField(_("outcome"), max_length=16, choices=CallAttempt.Outcome.choices, blank=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    digits = models.CharField(_("keys pressed"), max_length=32, blank=True)
    duration = models.PositiveIntegerField(_("duration, s"), null=True, blank=True)
    session_id = models.BigIntegerField(_("call session history id"), null=True, blank=True)
    scenario_version = models.PositiveIntegerField(_("scenario version reported"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("test call")
        verbose_name_plural = _("test calls")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.phone} {self.get_status_display()}"


class CeilingHit(models.Model):
    """A spending ceiling refused dials in one of its periods: written by the first refusal of the
    period (so the alert goes out once, not per lead), counted on by the others; /healthz lists
    the periods still running."""

    class Kind(models.TextChoices):
        SITE_DAILY = "site_daily", _("a site's daily call budget")
        HOURLY = "hourly", _("the hourly ceiling on calls")

    kind = models.CharField(_("ceiling"), max_length=10, choices=Kind.choices)
    site = models.ForeignKey("leads.Site", on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("site"))
    period_start = models.DateTimeField(_("period from"))
    period_end = models.DateTimeField(_("period to"), db_index=True)
    limit = models.PositiveIntegerField(_("limit"))
    refused = models.PositiveIntegerField(_("leads not called"), default=1)
    first_at = models.DateTimeField(_("first refusal"), auto_now_add=True)
    last_at = models.DateTimeField(_("last refusal"), auto_now=True)

    class Meta:
        verbose_name = _("ceiling reached")
        verbose_name_plural = _("ceilings reached")
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "site", "period_start"], name="ceilinghit_one_per_period"),
            models.UniqueConstraint(fields=["kind", "period_start"], condition=models.Q(site=None),
                                    name="ceilinghit_one_per_period_nosite"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.period_start:%Y-%m-%d %H:%M})"
