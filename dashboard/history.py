"""A made-up but plausible lead history for the dashboard: `manage.py seed_demo` and bench/dashboard.py.

Leads arrive mostly in the daytime (Moscow), fewer at weekends, a little more each week; a few
partners bring most of them; some sites sell in other currencies. Each lead gets the call attempts
and the columns the call step would have left (first dial, last outcome, status). Rows go to the
database in large batches: COPY on PostgreSQL (a million leads in about two minutes), INSERT
elsewhere.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import Callable
from zoneinfo import ZoneInfo

from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone

from leads.models import IntakeCounter, Lead, Partner, Site
from telephony.models import CallAttempt

MOSCOW = ZoneInfo("Europe/Moscow")
# Leads per local hour of the day (0-23): quiet at night, busiest in the evening.
HOURLY = [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 20, 20, 19, 18, 18, 19, 20, 22, 24, 25, 22, 16, 9, 4]
NAMES = ["Anna", "Ivan", "Olga", "Pavel", "Maria", "Sergey", "Elena", "Dmitry", "Irina", "Alexey"]
PARTNER_WORDS = (["North", "Blue", "Swift", "Bright", "Prime", "Green", "Silver", "Urban", "Rapid", "Golden"],
                 ["Media", "Leads", "Traffic", "Partners", "Digital", "Ads"])
SITE_CURRENCIES = {3: "USD", 7: "EUR", 11: "KZT"}  # every other site sells in roubles
SITE_ZONES = {2: "Asia/Yekaterinburg", 5: "Asia/Almaty", 9: "Asia/Kolkata"}
BATCH = 20_000


@dataclass(frozen=True)
class HistoryPlan:
    leads: int
    days: int
    partners: int
    sites: int
    end: datetime | None = None  # default: now
    seed: int = 8


def history_generate(plan: HistoryPlan, *, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Write the plan's sites, partners, leads, call attempts and refused-duplicate counters."""
    rng = random.Random(plan.seed)
    end = plan.end or timezone.now()
    sites = _sites(plan.sites)
    partners = _partners(plan.partners)
    next_lead = (Lead.objects.aggregate(m=models.Max("id"))["m"] or 0) + 1
    next_attempt = (CallAttempt.objects.aggregate(m=models.Max("id"))["m"] or 0) + 1
    arrivals = _arrivals(rng, plan, end)
    written = {"leads": 0, "attempts": 0}
    for start in range(0, len(arrivals), BATCH):
        leads, attempts = [], []
        for offset, arrived in enumerate(arrivals[start:start + BATCH]):
            lead_id = next_lead + start + offset
            lead, calls = _lead(rng, lead_id, arrived, end, sites, partners)
            for number, call in enumerate(calls, start=1):
                attempts.append({"id": next_attempt, "lead_id": lead_id, "site_id": lead["site_id"], "number": number,
                                 "phone": lead["phone"], **call})
                next_attempt += 1
            leads.append(lead)
        with transaction.atomic():
            _write(Lead, leads)
            _write(CallAttempt, attempts)
        written["leads"] += len(leads)
        written["attempts"] += len(attempts)
        if progress:
            progress(written["leads"])
    _sequences_reset()
    written["duplicates"] = _duplicates(rng, plan, end, sites)
    return written


def _sites(count: int) -> list[Site]:
    sites = []
    for n in range(1, count + 1):
        site, _created = Site.objects.get_or_create(
            domain=f"shop{n}.demo", defaults={"name": f"Demo shop {n}", "currency": SITE_CURRENCIES.get(n, "RUB"),
                                              "time_zone": SITE_ZONES.get(n, "")})
        sites.append(site)
    return sites


def _partners(count: int) -> list[Partner]:
    first, second = PARTNER_WORDS
    partners = []
    for n in range(count):
        name = f"{first[n % len(first)]} {second[n // len(first) % len(second)]}" + (f" {n // 60 + 1}" if n >= 60 else "")
        partner, _created = Partner.objects.get_or_create(code=f"demo-{n + 1}", defaults={"name": name})
        partners.append(partner)
    return partners


def _arrivals(rng: random.Random, plan: HistoryPlan, end: datetime) -> list[datetime]:
    """Arrival times, oldest first: daytime in Moscow, weekends quieter, 50 % more at the end."""
    first_day = (end.astimezone(MOSCOW) - timedelta(days=plan.days - 1)).date()
    days = [first_day + timedelta(days=n) for n in range(plan.days)]
    day_weights = [(1 + 0.5 * n / plan.days) * (0.7 if day.weekday() >= 5 else 1.0) for n, day in enumerate(days)]
    picked_days = rng.choices(range(plan.days), weights=day_weights, k=plan.leads)
    picked_hours = rng.choices(range(24), weights=HOURLY, k=plan.leads)
    moments = []
    for day_index, hour in zip(picked_days, picked_hours):
        day = days[day_index]
        local = datetime(day.year, day.month, day.day, hour, tzinfo=MOSCOW) + timedelta(seconds=rng.random() * 3600)
        moments.append(min(local, end - timedelta(seconds=1)))
    moments.sort()
    return moments


def _lead(rng: random.Random, lead_id: int, arrived: datetime, end: datetime, sites: list[Site],
          partners: list[Partner]) -> tuple[dict, list[dict]]:
    site = sites[min(int(rng.paretovariate(1.2)) - 1, len(sites) - 1) if rng.random() < 0.6 else rng.randrange(len(sites))]
    partner = None if rng.random() < 0.15 else partners[min(int(rng.paretovariate(1.0)) - 1, len(partners) - 1)]
    phone = f"+79{lead_id % 10 ** 9:09d}"
    has_order = rng.random() < 0.45
    amount = Decimal(round(math.exp(rng.gauss(8.0, 0.8)), 2)).quantize(Decimal("0.01")) if has_order else None
    if has_order and site.currency != "RUB":
        amount = (amount / 90).quantize(Decimal("0.01"))
    lead = {"id": lead_id, "public_id": uuid.UUID(int=rng.getrandbits(128), version=4), "ref": phone,
            "site_id": site.pk, "partner_id": partner.pk if partner else None, "name": rng.choice(NAMES),
            "phone_raw": phone, "phone": phone, "order_amount": amount, "currency": site.currency if has_order else "",
            "utm_source": partner.code if partner else "", "created_at": arrived, "updated_at": arrived,
            "crm_state": Lead.StepState.SKIPPED, "notify_state": Lead.StepState.SKIPPED}
    calls = _calls(rng, lead, arrived, end)
    return lead, calls


def _calls(rng: random.Random, lead: dict, arrived: datetime, end: datetime) -> list[dict]:
    """The lead's fate and its call attempts; fills the lead's status and call columns."""
    fate = rng.choices(["reached", "not_reached", "failed", "uncallable", "spam"], weights=[60, 25, 4, 6, 5])[0]
    lead.update(status=Lead.Status.REACHED, first_dial_at=None, last_call_outcome="", closed_at=None,
                manual_since=None, manual_reason="")
    if fate in ("uncallable", "spam"):
        lead["status"] = Lead.Status.SPAM if fate == "spam" else Lead.Status.MANUAL
        lead.update(manual_reason="" if fate == "spam" else "The number cannot be called.",
                    manual_since=None if fate == "spam" else arrived)
        lead["call_state"] = Lead.StepState.SKIPPED if fate == "spam" else Lead.StepState.FAILED
        return []
    outcomes = {"reached": ["no_answer", "voicemail", "busy"][:rng.choice([0, 0, 0, 1, 2])] + ["human"],
                "not_reached": [rng.choice(["no_answer", "voicemail", "busy"]) for _n in range(3)],
                "failed": ["failed"]}[fate]
    dial = _first_dial(rng, arrived)
    calls = []
    for outcome in outcomes:
        if dial >= end:
            break
        duration = rng.randint(8, 40) if outcome in ("human", "voicemail") else 0
        calls.append({"status": CallAttempt.Status.FINISHED, "outcome": outcome, "created_at": dial,
                      "started_at": dial + timedelta(seconds=1), "duration": duration,
                      "finished_at": dial + timedelta(seconds=20 + duration)})
        dial += timedelta(minutes=20)
    if calls:
        lead.update(first_dial_at=calls[0]["created_at"], last_call_outcome=calls[-1]["outcome"],
                    updated_at=calls[-1]["finished_at"])
    lead["call_state"] = Lead.StepState.DONE
    if not calls or len(calls) < len(outcomes):  # still being called at the end of the history
        lead.update(status=Lead.Status.SCHEDULED if calls else Lead.Status.IN_PROGRESS,
                    call_state=Lead.StepState.PENDING)
    elif fate == "reached":
        lead["closed_at"] = calls[-1]["finished_at"]
    else:
        lead.update(status=Lead.Status.MANUAL, manual_since=calls[-1]["finished_at"],
                    manual_reason="Not reached after 3 calls." if fate == "not_reached" else "The call failed.")
        if rng.random() < 0.7:  # most of them a person handled since
            lead.update(status=Lead.Status.HANDLED, closed_at=calls[-1]["finished_at"] + timedelta(hours=2))
    return calls


def _first_dial(rng: random.Random, arrived: datetime) -> datetime:
    """Seconds after arrival inside calling hours (09:00-21:00 Moscow), else the next morning."""
    local = arrived.astimezone(MOSCOW)
    if 9 <= local.hour < 21:
        return arrived + timedelta(seconds=min(rng.lognormvariate(math.log(12), 0.6), 600))
    morning = local.replace(hour=9, minute=0, second=0, microsecond=0)
    if local.hour >= 21:
        morning += timedelta(days=1)
    return morning.astimezone(dt_timezone.utc) + timedelta(seconds=rng.uniform(1, 300))


def _duplicates(rng: random.Random, plan: HistoryPlan, end: datetime, sites: list[Site]) -> int:
    counters = {}
    start = end - timedelta(days=plan.days)
    per_day = max(1, plan.leads // plan.days // 40)
    for day in range(plan.days):
        for _n in range(per_day):
            site = rng.choice(sites)
            slot = IntakeCounter.slot_of(start + timedelta(days=day, seconds=rng.uniform(0, 86400)))
            counters[(slot, site.pk)] = counters.get((slot, site.pk), 0) + 1
    rows = [IntakeCounter(slot=slot, site_id=site_id, kind=IntakeCounter.Kind.DUPLICATE, count=count)
            for (slot, site_id), count in counters.items()]
    IntakeCounter.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
    return sum(counters.values())


def _write(model: type[models.Model], rows: list[dict]) -> None:
    if not rows:
        return
    # Plain INSERT or COPY rather than bulk_create, which would overwrite created_at (auto_now_add).
    fields = model._meta.concrete_fields
    constants = {field.attname: _constant(field) for field in fields}
    table, columns = model._meta.db_table, ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[f.attname] if f.attname in row else constants[f.attname] for f in fields])
            return
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})", [
            [f.get_db_prep_save(row[f.attname], connection) if f.attname in row else constants[f.attname]
             for f in fields] for row in rows])


def _constant(field: models.Field):
    """A column's value when the generator leaves it at its default (JSON as text, which COPY reads)."""
    if isinstance(field, models.JSONField):
        return "{}"
    value = field.get_default()
    return field.get_db_prep_save(value, connection) if value is not None else None


def _sequences_reset() -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), [Lead, CallAttempt])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)

