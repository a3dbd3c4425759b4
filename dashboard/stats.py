"""Manager statistics, aggregated in the database: one grouped query per figure, never a lead in Python.

Every function takes a Period: a half-open time range [start, end), the time zone that days are
counted in, and optional site and partner filters. Order sums are kept per currency, never mixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery, Sum
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
    counts = leads.aggregate(leads=Count("id"), reached=Count("id", filter=REACHED),
                             manual=Count("id", filter=Q(status=Lead.Status.MANUAL)))
    outcomes = outcome_breakdown(period)
    counts.update(voicemail=outcomes.get(CallAttempt.Outcome.VOICEMAIL, 0),
                  no_answer=outcomes.get(CallAttempt.Outcome.NO_ANSWER, 0),
                  duplicates=_duplicates(period), order_sums=order_sums(leads))
    return counts


def outcome_breakdown(period: Period) -> dict[str, int]:
    """Leads by the outcome of their latest call ("" for leads never called)."""
    latest = CallAttempt.objects.filter(lead=OuterRef("pk")).exclude(outcome="").order_by("-number")
    rows = (leads_in(period).annotate(outcome=Subquery(latest.values("outcome")[:1]))
            .values("outcome").annotate(n=Count("id")).order_by())
    return {row["outcome"] or "": row["n"] for row in rows}


def order_sums(leads: QuerySet[Lead]) -> dict[str, dict]:
    rows = (leads.exclude(order_amount=None).values("currency")
            .annotate(total=Sum("order_amount"), orders=Count("id")).order_by("currency"))
    return {row["currency"]: {"sum": row["total"] or Decimal("0"), "orders": row["orders"]} for row in rows}


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
    """Median and 90th percentile of the seconds from arrival to the first dial."""
    firsts = (leads_in(period).annotate(first=Min("call_attempts__created_at")).exclude(first=None)
              .annotate(wait=F("first") - F("created_at")).order_by("wait").values_list("wait", flat=True))
    count = firsts.count()
    if not count:
        return {"median": None, "p90": None, "dialled": 0}

    def at(fraction: float) -> float:
        # Nearest rank, picked by the database: one row fetched, whatever the number of leads.
        return firsts[max(0, -(-int(fraction * 100) * count // 100) - 1)].total_seconds()

    return {"median": at(0.5), "p90": at(0.9), "dialled": count}


def _grouped(period: Period, key: str, label: str) -> list[dict]:
    leads = leads_in(period)
    rows = {row[key]: {**row, "order_sums": {}} for row in
            leads.values(key, label).annotate(leads=Count("id"), reached=Count("id", filter=REACHED)).order_by(label)}
    for row in (leads.exclude(order_amount=None).values(key, "currency")
                .annotate(total=Sum("order_amount"), orders=Count("id")).order_by()):
        rows[row[key]]["order_sums"][row["currency"]] = {"sum": row["total"], "orders": row["orders"]}
    for row in rows.values():
        row["conversion"] = round(row["reached"] / row["leads"], 4) if row["leads"] else 0.0
    return list(rows.values())


def _duplicates(period: Period) -> int:
    counters = IntakeCounter.objects.filter(
        kind=IntakeCounter.Kind.DUPLICATE, day__gte=period.start.astimezone(period.tz).date(),
        day__lt=(period.end - timedelta(microseconds=1)).astimezone(period.tz).date() + timedelta(days=1))
    if period.site_id:
        counters = counters.filter(site_id=period.site_id)
    return counters.aggregate(n=Sum("count"))["n"] or 0
