"""Manager statistics, aggregated in the database: one grouped query per figure, never a lead in Python.

Every function takes a Period: a half-open time range [start, end), the time zone that days are
counted in, and optional site and partner filters. Order sums are kept per currency, never mixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncHour

from leads.models import IntakeCounter, Lead
from telephony.models import CallAttempt

REACHED = Q(status=Lead.Status.REACHED)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    tz: ZoneInfo
    site_id: int | None = None
    partner_id: int | None = None

    @property
    def hourly(self) -> bool:
        return self.end - self.start <= timedelta(days=1)


def leads_in(period: Period) -> QuerySet[Lead]:
    leads = Lead.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if period.site_id:
        leads = leads.filter(site_id=period.site_id)
    if period.partner_id:
        leads = leads.filter(partner_id=period.partner_id)
    return leads


def totals(period: Period) -> dict:
    leads = leads_in(period)
    counts = leads.aggregate(
        leads=Count("id"), reached=Count("id", filter=REACHED), manual=Count("id", filter=Q(status=Lead.Status.MANUAL)),
        voicemail=Count("id", filter=Q(last_call_outcome=CallAttempt.Outcome.VOICEMAIL)),
        no_answer=Count("id", filter=Q(last_call_outcome=CallAttempt.Outcome.NO_ANSWER)))
    counts.update(duplicates=_duplicates(period), order_sums=order_sums(leads))
    return counts


def outcome_breakdown(period: Period) -> dict[str, int]:
    """Leads by the outcome of their latest call ("" for leads never called, or without a result yet)."""
    rows = leads_in(period).values("last_call_outcome").annotate(n=Count("id")).order_by()
    return {row["last_call_outcome"]: row["n"] for row in rows}


def order_sums(leads: QuerySet[Lead]) -> dict[str, dict]:
    rows = (leads.exclude(order_amount=None).values("currency")
            .annotate(total=Sum("order_amount"), orders=Count("id")).order_by("currency"))
    return {row["currency"]: {"sum": _money(row["total"]), "orders": row["orders"]} for row in rows}


def by_partner(period: Period) -> list[dict]:
    return _grouped(period, "partner_id", "partner__name")


def by_site(period: Period) -> list[dict]:
    return _grouped(period, "site_id", "site__name")


def series(period: Period) -> list[dict]:
    """Leads and reached per day (per hour for a range of one day or less), in the period's zone."""
    trunc = TruncHour if period.hourly else TruncDate
    rows = (leads_in(period).annotate(bucket=trunc("created_at", tzinfo=period.tz)).values("bucket")
            .annotate(leads=Count("id"), reached=Count("id", filter=REACHED)).order_by("bucket"))
    return list(rows)


def speed_to_lead(period: Period) -> dict[str, float | None]:
    """Median and 90th percentile of the seconds from arrival to the first dial (nearest rank)."""
    dialled = leads_in(period).exclude(first_dial_at=None)
    wait = ExpressionWrapper(F("first_dial_at") - F("created_at"), output_field=DurationField())
    if connection.vendor == "postgresql":
        figures = dialled.aggregate(median=_PercentileDisc(wait, fraction=0.5), p90=_PercentileDisc(wait, fraction=0.9),
                                    dialled=Count("id"))
        if not figures["dialled"]:
            return {"median": None, "p90": None, "dialled": 0}
        return {**figures, "median": figures["median"].total_seconds(), "p90": figures["p90"].total_seconds()}
    waits = dialled.annotate(wait=wait).order_by("wait").values_list("wait", flat=True)
    count = waits.count()
    if not count:
        return {"median": None, "p90": None, "dialled": 0}

    def at(fraction: float) -> float:
        # Nearest rank, picked by the database: one row fetched, whatever the number of leads.
        return waits[max(0, -(-int(fraction * 100) * count // 100) - 1)].total_seconds()

    return {"median": at(0.5), "p90": at(0.9), "dialled": count}


class _PercentileDisc(Aggregate):
    """PostgreSQL's nearest-rank percentile, computed in one pass by the database."""

    function = "PERCENTILE_DISC"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _grouped(period: Period, key: str, label: str) -> list[dict]:
    leads = leads_in(period)
    rows = {row[key]: {**row, "order_sums": {}} for row in
            leads.values(key, label).annotate(leads=Count("id"), reached=Count("id", filter=REACHED)).order_by(label)}
    for row in (leads.exclude(order_amount=None).values(key, "currency")
                .annotate(total=Sum("order_amount"), orders=Count("id")).order_by()):
        rows[row[key]]["order_sums"][row["currency"]] = {"sum": _money(row["total"]), "orders": row["orders"]}
    for row in rows.values():
        row["conversion"] = round(row["reached"] / row["leads"], 4) if row["leads"] else 0.0
    return list(rows.values())


def _duplicates(period: Period) -> int:
    counters = IntakeCounter.objects.filter(kind=IntakeCounter.Kind.DUPLICATE, slot__gte=period.start,
                                            slot__lt=period.end)
    if period.site_id:
        counters = counters.filter(site_id=period.site_id)
    return counters.aggregate(n=Sum("count"))["n"] or 0


def _money(total: Decimal | None) -> Decimal:
    # SQLite sums decimals as floats: back to cents (PostgreSQL's sums are exact already).
    return Decimal(total or 0).quantize(Decimal("0.01"))
