"""Daily rollups of the lead table, for the dashboard's long ranges (dashboard/rollups.py keeps them).

Each row sums one local day of leads in one time zone. Site and partner are plain ids, not foreign
keys: a rollup row is a copy of figures, rebuilt from the leads, never a reference to keep intact.
"""

from __future__ import annotations

from django.db import models


class RollupZone(models.Model):
    """A time zone whose days are rolled up. The row exists once every day of it has been built;
    `refreshed_at` is when the last refresh started: days before its local day are complete."""

    zone = models.CharField(max_length=64, unique=True)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.zone


class DailyCell(models.Model):
    """Counts and order sums of one local day's leads per site, partner and order currency."""

    zone = models.CharField(max_length=64)
    day = models.DateField()
    site_id = models.IntegerField()
    partner_id = models.IntegerField(null=True)
    currency = models.CharField(max_length=3, blank=True)
    leads = models.IntegerField()
    reached = models.IntegerField()
    manual = models.IntegerField()
    opted_out_leads = models.IntegerField(default=0)  # ended opted out: the opt-out key, or a listed number
    scheduled = models.IntegerField(default=0)
    in_progress = models.IntegerField(default=0)
    handled = models.IntegerField(default=0)
    spam = models.IntegerField(default=0)
    # Leads by the outcome of their latest call; the rest were not called (or have no result yet).
    human = models.IntegerField()
    voicemail = models.IntegerField()
    no_answer = models.IntegerField()
    busy = models.IntegerField()
    failed = models.IntegerField()
    opted_out = models.IntegerField(default=0)
    connected = models.IntegerField(default=0)  # talked to a seller (sellers/)
    seller_missed = models.IntegerField(default=0)  # asked for a seller, none took the call
    orders = models.IntegerField()
    order_sum = models.DecimalField(max_digits=18, decimal_places=2, null=True)

    class Meta:
        indexes = [
            models.Index(fields=["zone", "day"], name="dailycell_zone_day"),
            models.Index(fields=["zone", "site_id", "day"], name="dailycell_zone_site_day"),
            models.Index(fields=["zone", "partner_id", "day"], name="dailycell_zone_partner_day"),
        ]


class DailyWaits(models.Model):
    """Speed to lead of one local day: how many first dials fell into each log-spaced bucket of the
    wait (dashboard/waits.py), for all leads, one site, or one partner."""

    class Scope(models.TextChoices):
        ALL = "all"
        SITE = "site"
        PARTNER = "partner"

    zone = models.CharField(max_length=64)
    day = models.DateField()
    scope = models.CharField(max_length=8, choices=Scope.choices)
    key = models.IntegerField(default=0, help_text="The site's or partner's id; 0 for all leads.")
    dialled = models.IntegerField()
    buckets = models.JSONField(default=dict, help_text='{"bucket number": first dials}')

    class Meta:
        constraints = [models.UniqueConstraint(fields=["zone", "scope", "key", "day"], name="dailywaits_unique")]
