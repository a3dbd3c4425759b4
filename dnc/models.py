"""The do-not-call list: numbers that are never dialled, for every site or for one partner or site.

An entry is never edited or deleted: removing a number stamps the entry (who, when, why) and a later
listing is a new entry, so the list's whole history stays. Entries are matched by a keyed hash of the
number (dnc/numbers.py), so a number whose owner asked to be erased stays listed as its hash alone.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

ACTIVE = Q(removed_at=None)


class Entry(models.Model):
    class Scope(models.TextChoices):
        ALL = "all", _("every site")
        PARTNER = "partner", _("one partner's leads")
        SITE = "site", _("one site")

    class Source(models.TextChoices):
        KEY_PRESS = "key_press", _("opt-out key pressed during a call")
        ADMIN = "admin", _("added in the admin")
        API = "api", _("added through the API")
        IMPORT = "import", _("imported from a file")
        COMMAND = "command", _("added by manage.py dnc")

    phone = models.CharField(_("number"), max_length=20, blank=True,
                             help_text=_("E.164. Empty once the person's data was erased: the hash still matches."))
    phone_hash = models.CharField(_("number's hash"), max_length=64, editable=False)
    scope = models.CharField(_("applies to"), max_length=8, choices=Scope.choices, default=Scope.ALL)
    site = models.ForeignKey("leads.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("site"))
    partner = models.ForeignKey("leads.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("partner"))
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    lead = models.ForeignKey("leads.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                             verbose_name=_("lead"), help_text=_("The lead whose call the opt-out key ended."))
    added_at = models.DateTimeField(_("listed"), auto_now_add=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+", verbose_name=_("listed by"))
    added_by_name = models.CharField(_("listed by (name)"), max_length=150, blank=True,
                                     help_text=_("Kept when the user is deleted."))
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("removed by"))
    removed_by_name = models.CharField(_("removed by (name)"), max_length=150, blank=True)
    remove_reason = models.CharField(_("why removed"), max_length=300, blank=True)
    erased_at = models.DateTimeField(_("number erased"), null=True, blank=True,
                                     help_text=_("Since then only the number's hash is kept."))

    class Meta:
        verbose_name = _("do-not-call entry")
        verbose_name_plural = _("do-not-call entries")
        ordering = ["-added_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope="all", site=None, partner=None)
                           | Q(scope="site", site__isnull=False, partner=None)
                           | Q(scope="partner", partner__isnull=False, site=None)),
                name="dnc_entry_scope_matches_target"),
            # One active entry per number and scope; removed entries are history and may repeat.
            models.UniqueConstraint(fields=["phone_hash"], condition=ACTIVE & Q(scope="all"),
                                    name="dnc_entry_one_active_all"),
            models.UniqueConstraint(fields=["phone_hash", "site"], condition=ACTIVE & Q(scope="site"),
                                    name="dnc_entry_one_active_site"),
            models.UniqueConstraint(fields=["phone_hash", "partner"], condition=ACTIVE & Q(scope="partner"),
                                    name="dnc_entry_one_active_partner"),
        ]
        indexes = [models.Index(fields=["phone_hash", "added_at"], name="dnc_entry_hash_added")]

    def __str__(self) -> str:
        return f"{self.phone or _('(erased number)')} — {self.target_label}"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None

    @property
    def target_label(self) -> str:
        if self.scope == self.Scope.SITE:
            return str(_("site %(site)s") % {"site": self.site})
        if self.scope == self.Scope.PARTNER:
            return str(_("partner %(partner)s") % {"partner": self.partner})
        return str(self.Scope.ALL.label)
