"""Manager statistics, aggregated in the database: one grouped query per view, never a lead in Python.

Every function takes a Period: a half-open time range [start, end), the time zone that days are
counted in, and optional site and partner filters. Order sums are kept per currency, never mixed.

A range longer than 31 days is read from the daily rollups (dashboard/rollups.py) for the whole
days they hold, and from the leads for the rest (today); the counts and sums are the same either
way. Only speed to lead differs: from the rollups its percentiles are approximate (within 4.9 %,
dashboard/waits.py) and say so with `"approximate": True`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Aggregate, Count, DurationField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncHour

from dashboard import rollups, waits
from leads.models import IntakeCounter, Lead, Partner, Site

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

    # The days as the period's zone names them: a template's |date would show them in the server's zone
    # (a Berlin day starts at 23:00 UTC the day before).
    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.tz).date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()


def leads_in(period: Period) -> QuerySet[Lead]:
    leads = Lead.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if period.site_id:
        leads = leads.filter(site_id=period.site_id)
    if period.partner_id:
        leads = leads.filter(partner_id=period.partner_id)
    return leads


def summary(period: Period) -> dict:
    """Totals, per-partner and per-site rows from one grouped pass over the period's leads."""
    cells = _cells(period)
    return {"totals": _totals(cells, period), "partners": _grouped(cells, "partner_id", Partner),
            "sites": _grouped(cells, "site_id", Site)}


def totals(period: Period) -> dict:
    return _totals(_cells(period), period)


def by_partner(period: Period) -> list[dict]:
    return _grouped(_cells(period), "partner_id", Partner)


def by_site(period: Period) -> list[dict]:
    return _grouped(_cells(period), "site_id", Site)


def _split(period: Period) -> tuple[rollups.Days | None, Period | None]:
    """The whole days the rollups answer, and the rest of the period (None when nothing is left)."""
    days, rest_start = rollups.split(period)
    return days, (replace(period, start=rest_start) if rest_start is not None else None)


def _cells(period: Period) -> list[dict]:
    """Counts and order sums per site, partner and currency: a few thousand rows, whatever the leads."""
    days, rest = _split(period)
    return (rollups.cells(days) if days else []) + (_lead_cells(rest) if rest else [])


def _lead_cells(period: Period) -> list[dict]:
    # Counted as the rollups count them, so a range reads the same from either.
    counts = {name: rollups.CELL_COUNTS[name] for name in rollups.CELL_FIGURES}
    return list(leads_in(period).values("site_id", "partner_id", "currency").annotate(
        **counts, total=rollups.CELL_COUNTS["order_sum"]).order_by())


def _totals(cells: list[dict], period: Period) -> dict:
    counts = {key: sum(cell[key] for cell in cells) for key in rollups.CELL_FIGURES if key != "orders"}
    # Leads never called, or with no result yet: with the outcomes, they add up to the leads.
    counts["not_called"] = counts["leads"] - sum(counts[outcome] for outcome in rollups.OUTCOMES)
    counts["reach_rate"] = _rate(counts["reached"], counts["leads"])
    refused = refused_by_reason(period)
    return {**counts, "duplicates": refused[IntakeCounter.Kind.DUPLICATE], "refused": refused,
            "order_sums": _sums(cells)}


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _grouped(cells: list[dict], key: str, model) -> list[dict]:
    label = f"{model._meta.model_name}__name"
    names = dict(model.objects.filter(pk__in={cell[key] for cell in cells}).values_list("pk", "name"))
    rows: dict = {}
    for cell in cells:
        row = rows.setdefault(cell[key], {key: cell[key], label: names.get(cell[key]), "leads": 0, "reached": 0,
                                          "cells": []})
        row["leads"] += cell["leads"]
        row["reached"] += cell["reached"]
        row["cells"].append(cell)
    for row in rows.values():
        row["order_sums"] = _sums(row.pop("cells"))
        row["reach_rate"] = _rate(row["reached"], row["leads"])
    return sorted(rows.values(), key=lambda row: (row[label] is None, row[label] or ""))


def _sums(cells: list[dict]) -> dict[str, dict]:
    sums: dict[str, dict] = {}
    for cell in sorted(cells, key=lambda cell: cell["currency"]):
        if cell["orders"]:
            entry = sums.setdefault(cell["currency"], {"sum": Decimal("0.00"), "orders": 0})
            entry["sum"] += _money(cell["total"])
            entry["orders"] += cell["orders"]
    return sums


def partner_sums(period: Period, currency: str) -> list[dict]:
    """Order sums in one currency per partner, largest first (the order-sum chart): only that currency's
    leads or rollup rows are read, where by_partner() reads every currency's."""
    days, rest = _split(period)
    parts = [rollups.partner_sums(days, currency)] if days else []
    if rest:
        parts.append(leads_in(rest).filter(currency=currency).exclude(order_amount=None).values("partner_id")
                     .annotate(total=Sum("order_amount"), orders=Count("order_amount")).order_by())
    sums: dict = {}
    for rows in parts:
        for row in rows:
            entry = sums.setdefault(row["partner_id"], {"sum": Decimal("0.00"), "orders": 0})
            entry["sum"] += _money(row["total"])
            entry["orders"] += row["orders"]
    names = dict(Partner.objects.filter(pk__in=[pk for pk in sums if pk]).values_list("pk", "name"))
    rows = [{"partner_id": pk, "partner__name": names.get(pk), **entry} for pk, entry in sums.items()]
    return sorted(rows, key=lambda row: (-row["sum"], row["partner__name"] is None, row["partner__name"] or ""))


def outcome_breakdown(period: Period) -> dict[str, int]:
    """Leads by the outcome of their latest call ("" for leads never called, or without a result yet)."""
    days, rest = _split(period)
    breakdown = Counter(rollups.outcomes(days) if days else {})
    if rest:
        for row in leads_in(rest).values("last_call_outcome").annotate(n=Count("id")).order_by():
            breakdown[row["last_call_outcome"]] += row["n"]
    return dict(breakdown)


def series(period: Period) -> list[dict]:
    """Leads and reached per day (per hour for a range of one day or less), in the period's zone."""
    trunc = TruncHour if period.hourly else TruncDate
    days, rest = _split(period)
    return (rollups.series(days) if days else []) + (_lead_series(rest, trunc) if rest else [])


def _lead_series(period: Period, trunc) -> list[dict]:
    rows = (leads_in(period).annotate(bucket=trunc("created_at", tzinfo=period.tz)).values("bucket")
            .annotate(leads=Count("id"), reached=Count("id", filter=REACHED)).order_by("bucket"))
    return list(rows)


def speed_to_lead(period: Period) -> dict[str, float | None]:
    """Median and 90th percentile of the seconds from arrival to the first dial (nearest rank).

    Exact from the leads; approximate from the rollups (a year), unless a site and a partner are
    both chosen: the rollups keep waits per site and per partner, not per pair."""
    days, rest = _split(period)
    if days and not (period.site_id and period.partner_id):
        return _approximate_speed(days, rest)
    dialled = leads_in(period).exclude(first_dial_at=None)
    wait = rollups.FIRST_DIAL_WAIT
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '64MB'")  # a year's waits sort in memory, not on disk
            figures = dialled.aggregate(median=_PercentileDisc(wait, fraction=0.5),
                                        p90=_PercentileDisc(wait, fraction=0.9), dialled=Count("id"))
        if not figures["dialled"]:
            return {"median": None, "p90": None, "dialled": 0}
        return {**figures, "median": figures["median"].total_seconds(), "p90": figures["p90"].total_seconds()}
    ordered = dialled.annotate(wait=wait).order_by("wait").values_list("wait", flat=True)
    count = ordered.count()
    if not count:
        return {"median": None, "p90": None, "dialled": 0}

    def at(fraction: float) -> float:
        # Nearest rank, picked by the database: one row fetched, whatever the number of leads.
        return ordered[waits.nearest_rank(fraction, count) - 1].total_seconds()

    return {"median": at(0.5), "p90": at(0.9), "dialled": count}


def _approximate_speed(days: rollups.Days, rest: Period | None) -> dict:
    counts = rollups.wait_counts(days)
    if rest:
        dialled = leads_in(rest).exclude(first_dial_at=None).annotate(wait=rollups.FIRST_DIAL_WAIT)
        for wait_ in dialled.values_list("wait", flat=True):
            counts[waits.bucket_of(wait_)] += 1
    return {"median": waits.percentile(counts, 0.5), "p90": waits.percentile(counts, 0.9),
            "dialled": sum(counts.values()), "approximate": True}


class _PercentileDisc(Aggregate):
    """PostgreSQL's nearest-rank percentile, computed in one pass by the database."""

    function = "PERCENTILE_DISC"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def refused_by_reason(period: Period) -> dict[str, int]:
    """Posts that left no lead, per reason (IntakeCounter.Kind), every reason present. A refusal made
    before any site was known (a throttled address, an unknown site) counts only without a site filter."""
    counters = IntakeCounter.objects.filter(slot__gte=period.start, slot__lt=period.end)
    if period.site_id:
        counters = counters.filter(site_id=period.site_id)
    counts = dict(counters.order_by().values("kind").annotate(n=Sum("count")).values_list("kind", "n"))
    return {kind: counts.get(kind) or 0 for kind in IntakeCounter.Kind.values}


def _money(total: Decimal | None) -> Decimal:
    # SQLite sums decimals as floats: back to cents (PostgreSQL's sums are exact already).
    return Decimal(total or 0).quantize(Decimal("0.01"))
