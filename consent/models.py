"""Consent texts a site shows, and the proof of each visitor's consent kept with their lead.

Both are records of what was said and agreed to, so neither is ever edited. Two guards hold that:
here, `save()` of an existing row and `QuerySet.update()` refuse; in the database, a trigger refuses
every UPDATE of the two tables (migration 0002, PostgreSQL and SQLite), so raw SQL cannot either.
A row may still be deleted: with its lead, or by an erasure that the law asks for.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NeverEdited(Exception):
    """An attempt to change a consent record after it was written."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise NeverEdited(f"{self.model.__name__} rows are never edited; write a new one instead.")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise NeverEdited(f"{type(self).__name__} rows are never edited; write a new one instead.")
        super().save(*args, **kwargs)


class ConsentText(AppendOnly):
    """One version of the text a site shows beside its consent box. A change is a new version."""

    site = models.ForeignKey("leads.Site", on_delete=models.CASCADE, related_name="consent_texts",
                             verbose_name=_("site"))
    version = models.PositiveIntegerField(_("version"), help_text=_("What a form sends as consent_version."))
    text = models.TextField(_("text"), max_length=5000)
    created_at = models.DateTimeField(_("written"), default=timezone.now)
    # A name, not a foreign key: deleting a user would otherwise have to update this row.
    created_by = models.CharField(_("written by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("consent text")
        verbose_name_plural = _("consent texts")
        ordering = ["site", "-version"]
        constraints = [models.UniqueConstraint(fields=["site", "version"], name="consent_text_site_version")]

    def __str__(self) -> str:
        return f"{self.site} v{self.version}"


class ConsentProof(AppendOnly):
    """What a visitor agreed to, when, and from where: written with their lead, never edited."""

    class PageSource(models.TextChoices):
        FORM = "form", _("the form's page field")
        REFERER = "referer", _("the request's Referer header")
        ENVELOPE = "envelope", _("the shop's script (Corezoid envelope, with the site's key)")

    lead = models.OneToOneField("leads.Lead", on_delete=models.CASCADE, related_name="consent_proof",
                                verbose_name=_("lead"))
    # The site at the time: a lead may be moved to another site in the admin later, its proof not.
    site = models.ForeignKey("leads.Site", on_delete=models.PROTECT, related_name="+", verbose_name=_("site"))
    given_at = models.DateTimeField(_("given at"), default=timezone.now, db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)
    page_url = models.CharField(_("page"), max_length=2000, blank=True)
    page_source = models.CharField(_("page read from"), max_length=8, choices=PageSource.choices, blank=True)
    text = models.TextField(_("text shown"), blank=True)
    consent_text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="proofs", verbose_name=_("text version"),
                                     help_text=_("Empty: the form sent the text itself."))

    class Meta:
        verbose_name = _("consent proof")
        verbose_name_plural = _("consent proofs")
        ordering = ["-given_at", "-id"]
        permissions = [("export_consentproof", _("Can export consent proofs as CSV"))]
        indexes = [models.Index(fields=["site", "given_at"], name="consent_proof_site_given")]

    def __str__(self) -> str:
        return f"{self.lead} · {self.given_at:%Y-%m-%d %H:%M}"

    @property
    def version(self) -> int | None:
        return self.consent_text.version if self.consent_text_id else None
