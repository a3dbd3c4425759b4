"""Daily rollups for the dashboard's long ranges: how they are built, kept current and read.

Why: a year of leads is a million rows; one grouped pass over them takes 550-740 ms on PostgreSQL
and exact speed-to-lead percentiles sort 900,000 waits (docs/benchmarks.md). A year of rollups is
about 165,000 DailyCell rows per time zone (a local day x site x partner x currency) and 365
DailyWaits rows per scope, summed in ~50 ms.

What: rows per *local day in a time zone*. The zones rolled up are the dashboard's default display
zones: TIME_ZONE and every site's own zone; each holds all leads, so any filter in these zones is
covered. Another zone, a range of 31 days or less, or a range not made of whole local days is
answered from the leads (dashboard/stats.py), exact and slower.

Kept current: `rollups_refresh` (a beat task, every ROLLUP_REFRESH_INTERVAL) rebuilds, per zone,
every day from the previous refresh's local day to today, plus the arrival day of every lead with a
timeline entry (LeadEvent) since the previous refresh. Every change the dashboard shows writes one:
a call started (first dial), a call result (latest outcome), reached, manual handling, handled,
spam, and an edit in the admin's change form. A rebuild is a DELETE and one grouped INSERT ... SELECT
per span of days. A full rebuild runs daily as a safety net (deleted leads leave no event), and
once for a zone that has none yet. Readers use rollups only for days before the local day of
`RollupZone.refreshed_at`; later days (today) come from the leads.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from dashboard import waits
from dashboard.models import DailyCell, DailyWaits, RollupZone
from leads.models import Lead, LeadEvent, Site
from telephony.models import CallAttempt

LONG_RANGE = timedelta(days=31)  # longer ranges of whole days are read from the rollups
# Events written by a transaction that committed after the previous refresh read them.
MARGIN = timedelta(minutes=10)
LOCK_ID = 0x6C65_6164  # PostgreSQL advisory lock: one refresh at a time
OUTCOMES = [outcome.value for outcome in CallAttempt.Outcome]
CELL_COUNTS = {
    "leads": Count("id"), "reached": Count("id", filter=Q(status=Lead.Status.REACHED)),
    "manual": Count("id", filter=Q(status=Lead.Status.MANUAL)),
    "opted_out_leads": Count("id", filter=Q(status=Lead.Status.OPTED_OUT)),
    "scheduled": Count("id", filter=Q(status=Lead.Status.SCHEDULED)),
    "in_progress": Count("id", filter=Q(status=Lead.Status.IN_PROGRESS)),
    "handled": Count("id", filter=Q(status=Lead.Status.HANDLED)),
    "spam": Count("id", filter=Q(status=Lead.Status.SPAM)),
    **{outcome: Count("id", filter=Q(last_call_outcome=outcome)) for outcome in OUTCOMES},
    "orders": Count("order_amount"), "order_sum": Sum("order_amount"),
}
# What the dashboard reads of a cell, from the rollups (summed) or from the leads (counted as above).
# Each lead has one status: the status figures add up to "leads"; so do the outcomes plus the leads never
# called (no outcome yet).
STATUS_FIGURES = {Lead.Status.REACHED: "reached", Lead.Status.SCHEDULED: "scheduled",
                  Lead.Status.IN_PROGRESS: "in_progress", Lead.Status.MANUAL: "manual",
                  Lead.Status.HANDLED: "handled", Lead.Status.OPTED_OUT: "opted_out_leads", Lead.Status.SPAM: "spam"}
CELL_FIGURES = ("leads", *STATUS_FIGURES.values(), *OUTCOMES, "orders")
# Speed to lead of one lead: from its arrival to its first dial.
FIRST_DIAL_WAIT = ExpressionWrapper(F("first_dial_at") - F("created_at"), output_field=DurationField())


@dataclass(frozen=True)
class Days:
    """Whole local days [first, end) of a zone, read from the rollups, with the period's filters."""

    zone: str
    first: date
    end: date
    site_id: int | None = None
    partner_id: int | None = None


def rollup_zones() -> list[str]:
    zones = {ZoneInfo(settings.TIME_ZONE).key}
    zones.update(ZoneInfo(name).key for name in Site.objects.exclude(time_zone="").values_list("time_zone", flat=True))
    return sorted(zones)


def rollups_refresh(*, now: datetime | None = None, full: bool = False) -> dict[str, int]:
    """Rebuild the days that may have changed since the last refresh (all days with `full`).

    Returns the number of days rebuilt per zone."""
    now = now or timezone.now()
    zones = rollup_zones()
    rebuilt = {}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
        for model in (DailyCell, DailyWaits, RollupZone):
            model.objects.exclude(zone__in=zones).delete()
        known = dict(RollupZone.objects.values_list("zone", "refreshed_at"))
        since = min(known.values()) - MARGIN if known else now
        touched = set(LeadEvent.objects.filter(at__gte=since).values_list("lead__created_at", flat=True).distinct())
        for zone in zones:
            tz = ZoneInfo(zone)
            days = _all_days(tz, now) if full or zone not in known else _recent_days(tz, known[zone], now, touched)
            for first, end in _spans(days):
                days_rebuild(zone=zone, first=first, end=end)
            RollupZone.objects.update_or_create(zone=zone, defaults={"refreshed_at": now})
            rebuilt[zone] = len(days)
    return rebuilt


def _all_days(tz: ZoneInfo, now: datetime) -> set[date]:
    oldest = Lead.objects.aggregate(oldest=Min("created_at"))["oldest"]
    if oldest is None:
        return set()
    return _days_between(oldest.astimezone(tz).date(), now.astimezone(tz).date())


def _recent_days(tz: ZoneInfo, refreshed_at: datetime, now: datetime, touched: set[datetime]) -> set[date]:
    days = _days_between((refreshed_at - MARGIN).astimezone(tz).date(), now.astimezone(tz).date())
    return days | {moment.astimezone(tz).date() for moment in touched}


def _days_between(first: date, last: date) -> set[date]:
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def _spans(days: set[date]) -> list[tuple[date, date]]:
    """Sorted days -> runs of consecutive days as [first, end)."""
    spans: list[list[date]] = []
    for day in sorted(days):
        if spans and spans[-1][1] == day:
            spans[-1][1] = day + timedelta(days=1)
        else:
            spans.append([day, day + timedelta(days=1)])
    return [(first, end) for first, end in spans]


def midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def days_rebuild(*, zone: str, first: date, end: date) -> None:
    """Replace the rollup rows of the local days [first, end) of `zone` by sums of the leads."""
    tz = ZoneInfo(zone)
    leads = Lead.objects.filter(created_at__gte=midnight(first, tz), created_at__lt=midnight(end, tz))
    DailyCell.objects.filter(zone=zone, day__gte=first, day__lt=end).delete()
    DailyWaits.objects.filter(zone=zone, day__gte=first, day__lt=end).delete()
    cells = (leads.annotate(day=TruncDate("created_at", tzinfo=tz)).values("day", "site_id", "partner_id", "currency")
             .annotate(**CELL_COUNTS).order_by())
    sql, params = cells.query.sql_with_params()
    columns = ", ".join(connection.ops.quote_name(name) for name in ["day", "site_id", "partner_id", "currency",
                                                                     *CELL_COUNTS])
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {DailyCell._meta.db_table} (zone, {columns}) "
                       f"SELECT %s, {columns} FROM ({sql}) cells", [zone, *params])
    _waits_rebuild(zone, tz, leads)


def _waits_rebuild(zone: str, tz: ZoneInfo, leads: QuerySet[Lead]) -> None:
    dials = (leads.exclude(first_dial_at=None).annotate(day=TruncDate("created_at", tzinfo=tz), wait=FIRST_DIAL_WAIT)
             .values_list("day", "site_id", "partner_id", "wait").order_by())
    counts: dict[tuple, Counter] = defaultdict(Counter)
    Scope = DailyWaits.Scope
    for day, site_id, partner_id, wait_ in dials.iterator(chunk_size=20_000):
        bucket = waits.bucket_of(wait_)
        counts[(day, Scope.ALL, 0)][bucket] += 1
        counts[(day, Scope.SITE, site_id)][bucket] += 1
        if partner_id is not None:
            counts[(day, Scope.PARTNER, partner_id)][bucket] += 1
    DailyWaits.objects.bulk_create(
        [DailyWaits(zone=zone, day=day, scope=scope, key=key, dialled=sum(buckets.values()),
                    buckets={str(bucket): n for bucket, n in sorted(buckets.items())})
         for (day, scope, key), buckets in counts.items()], batch_size=2_000)


# --- reading ------------------------------------------------------------------------------------
def split(period) -> tuple[Days | None, datetime | None]:
    """The days of a dashboard Period the rollups answer, and where the leads take over (None: nowhere)."""
    if period.end - period.start <= LONG_RANGE:
        return None, period.start
    tz = period.tz
    refreshed_at = RollupZone.objects.filter(zone=tz.key).values_list("refreshed_at", flat=True).first()
    first, end = period.start.astimezone(tz).date(), period.end.astimezone(tz).date()
    if refreshed_at is None or midnight(first, tz) != period.start or midnight(end, tz) != period.end:
        return None, period.start
    boundary = min(end, refreshed_at.astimezone(tz).date())
    if boundary <= first:
        return None, period.start
    days = Days(tz.key, first, boundary, period.site_id, period.partner_id)
    return days, (midnight(boundary, tz) if boundary < end else None)


def _rows(days: Days) -> QuerySet[DailyCell]:
    rows = DailyCell.objects.filter(zone=days.zone, day__gte=days.first, day__lt=days.end)
    if days.site_id:
        rows = rows.filter(site_id=days.site_id)
    if days.partner_id:
        rows = rows.filter(partner_id=days.partner_id)
    return rows


def cells(days: Days) -> list[dict]:
    """The same rows as dashboard/stats.py's grouped pass over the leads, from the rollups."""
    return list(_rows(days).values("site_id", "partner_id", "currency").annotate(
        **{name: Sum(name) for name in CELL_FIGURES}, total=Sum("order_sum")).order_by())


def series(days: Days) -> list[dict]:
    rows = _rows(days).values("day").annotate(leads=Sum("leads"), reached=Sum("reached")).order_by("day")
    return [{"bucket": row["day"], "leads": row["leads"], "reached": row["reached"]} for row in rows]


def partner_sums(days: Days, currency: str) -> QuerySet[DailyCell]:
    """Per partner, the order sum and orders in one currency (stats.partner_sums)."""
    return (_rows(days).filter(currency=currency, orders__gt=0).values("partner_id")
            .annotate(total=Sum("order_sum"), orders=Sum("orders")).order_by())


def outcomes(days: Days) -> dict[str, int]:
    sums = _rows(days).aggregate(leads=Sum("leads"), **{outcome: Sum(outcome) for outcome in OUTCOMES})
    breakdown = {outcome: sums[outcome] or 0 for outcome in OUTCOMES}
    # "" is every other lead: not called, or no result yet (the call step writes no other value).
    breakdown[""] = (sums["leads"] or 0) - sum(breakdown.values())
    return {outcome: n for outcome, n in breakdown.items() if n}


def wait_counts(days: Days) -> Counter:
    """First dials per wait bucket (dashboard/waits.py). Not for a site and a partner together."""
    scope, key = DailyWaits.Scope.ALL, 0
    if days.site_id:
        scope, key = DailyWaits.Scope.SITE, days.site_id
    elif days.partner_id:
        scope, key = DailyWaits.Scope.PARTNER, days.partner_id
    counts: Counter = Counter()
    for buckets in DailyWaits.objects.filter(zone=days.zone, scope=scope, key=key, day__gte=days.first,
                                             day__lt=days.end).values_list("buckets", flat=True):
        waits.counts_add(counts, buckets)
    return counts
