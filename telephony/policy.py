"""A site's calling settings, with the global ones filling the blanks, and the guards on the bill."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache, partial
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from leadcaller.compiled import CompiledSQL
from leads.models import Lead, Site, parse_dates, split_codes
from leads.phones import NUMBER_TYPES, number_type_allowed, number_type_code
from telephony.cadence import DEFAULT_CADENCE, Cadence, CadenceError, parse_cadence
from telephony.calling_hours import CallingHours, parse_calling_hours, parse_hours_by_country, parse_local_hours
from telephony.models import CallAttempt, CeilingHit


@dataclass(frozen=True)
class CallSettings:
    rule_id: str
    caller_id: str
    hours: CallingHours
    tz: ZoneInfo
    closed: frozenset
    regions: tuple[str, ...]
    number_types: tuple[str, ...]  # leads.phones.NUMBER_TYPES codes
    daily_budget: int  # 0: no limit
    max_per_number: int  # 0: no limit
    # Delays between the calls of a lead not reached, by the last call's outcome (telephony/cadence.py).
    cadences: Mapping[str, Cadence]
    voicemail_action: str  # leads.models.VoicemailAction
    # The window in the lead's own zone (telephony/call_window.py): by the number's country, else the default.
    lead_hours: CallingHours
    lead_hours_by_country: Mapping[str, CallingHours]
    skip_holidays: bool
    ramp: timedelta  # a backlog released when a window opens is dialled over this long


def call_settings_for(site: Site) -> CallSettings:
    regions = [code.strip().upper() for code in site.call_allowed_regions.split(",") if code.strip()]
    return CallSettings(
        rule_id=site.call_rule_id or settings.VOXIMPLANT_RULE_ID,
        caller_id=site.caller_id or settings.VOXIMPLANT_CALLER_ID,
        hours=parse_calling_hours(site.calling_hours or settings.CALLING_HOURS),
        tz=ZoneInfo(site.time_zone or settings.CALLING_TIME_ZONE),
        closed=parse_dates(site.non_calling_dates),
        regions=tuple(regions or settings.CALL_ALLOWED_REGIONS),
        number_types=tuple(split_codes(site.call_number_types) or settings.CALL_NUMBER_TYPES),
        daily_budget=settings.CALL_DAILY_BUDGET if site.call_daily_budget is None else site.call_daily_budget,
        max_per_number=settings.CALL_MAX_PER_NUMBER if site.call_max_per_number is None else site.call_max_per_number,
        cadences=site_cadences(site),
        voicemail_action=site.voicemail_action,
        lead_hours=parse_local_hours(settings.LEAD_LOCAL_HOURS),
        lead_hours_by_country=parse_hours_by_country(settings.LEAD_LOCAL_HOURS_BY_COUNTRY),
        skip_holidays=settings.SKIP_HOLIDAYS if site.skip_holidays is None else site.skip_holidays,
        ramp=timedelta(minutes=settings.WINDOW_RAMP_MINUTES),
    )


def site_cadences(site: Site) -> dict[str, Cadence]:
    """The site's cadence per outcome ("no_answer", "busy", "voicemail"); a blank one is the no-answer one.
    A text the admin's validation would refuse (saved some other way) falls back to the default."""
    def parsed(text: str) -> Cadence | None:
        try:
            return parse_cadence(text) if text.strip() else None
        except CadenceError:
            return None

    main = parsed(site.call_cadence) or parse_cadence(DEFAULT_CADENCE)
    return {"no_answer": main, "busy": parsed(site.call_cadence_busy) or main,
            "voicemail": parsed(site.call_cadence_voicemail) or main}


def not_callable_reason(phone: str, cfg: CallSettings) -> str | None:
    """Why this number must not be dialled, or None. Replaces the template's '11 characters' rule."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return _("%(phone)s is not a phone number.") % {"phone": phone}
    if not phonenumbers.is_valid_number(number):
        return _("%(phone)s is not a valid number.") % {"phone": phone}
    region = phonenumbers.region_code_for_number(number)
    if region not in cfg.regions:
        return _("%(phone)s is in %(region)s; calls go only to %(allowed)s.") % {
            "phone": phone, "region": region or "?", "allowed": ", ".join(cfg.regions)}
    kind = number_type_code(number)
    if not number_type_allowed(kind, cfg.number_types):
        return _("%(phone)s is not called: kind of number: %(kind)s; this site calls: %(allowed)s.") % {
            "phone": phone, "kind": _number_type_label(kind),
            "allowed": ", ".join(_number_type_label(code) for code in cfg.number_types)}
    return None


def _number_type_label(code: str) -> str:
    labels = {"premium_rate": _("premium-rate"), "voicemail": _("voicemail access"), "unknown": _("unknown")}
    return str(NUMBER_TYPES[code][1]) if code in NUMBER_TYPES else labels.get(code, code)


def unknown_site_reason(lead: Lead) -> str | None:
    """Why a lead from an unknown site is not dialled (UNKNOWN_SITES=store), or None."""
    if lead.site_unknown and settings.UNKNOWN_SITES != "accept":
        return _("The lead came from a site that is not registered, so it is not called automatically "
                 "(UNKNOWN_SITES=store). Register the site or call by hand.")
    return None


# Attempts that reached the provider count against the budget; a request it refused does not.
DIALLED = (CallAttempt.Status.STARTING, CallAttempt.Status.STARTED, CallAttempt.Status.FINISHED,
           CallAttempt.Status.LOST)
# Taken by every dial while the hourly ceiling is on, so two workers cannot both take its last call.
_CEILING_LOCK = 0x6C63_6365


@dataclass(frozen=True)
class Block:
    """Why the bill forbids a dial. `ceiling`: the spending ceiling that did (CeilingHit.Kind), with
    the period it counts over; empty for a limit that concerns the lead alone (the number's cooldown)."""

    reason: str
    ceiling: str = ""
    period: tuple[datetime, datetime] | None = None
    limit: int = 0


def budget_block(lead: Lead, cfg: CallSettings, now: datetime) -> Block | None:
    """What forbids another dial of this lead now (site budget, hourly ceiling, number cooldown), or None.

    "Today" is the site's calendar day; the hourly ceiling counts every site's dials in the last 60
    minutes. Call it while holding the site's row lock, so two workers cannot both take the last
    call of the budget.
    """
    day = now.astimezone(cfg.tz).date()
    day_start = datetime.combine(day, time(0), tzinfo=cfg.tz)
    ceiling = settings.CALL_HOURLY_CEILING
    if ceiling:
        _ceiling_lock()
    limits = tuple((name, limit) for name, limit in
                   (("site", cfg.daily_budget), ("hour", ceiling), ("number", cfg.max_per_number)) if limit)
    keys = {"site_id": lead.site_id, "day_start": day_start, "hour_ago": now - timedelta(hours=1), "phone": lead.phone}
    reached = _limits_reached(limits, {key: keys[key] for name, _limit in limits for key in _LIMIT_KEYS[name]})
    if "site" in reached:
        return Block(_("The site's budget of %(n)d calls a day is used up.") % {"n": cfg.daily_budget},
                     CeilingHit.Kind.SITE_DAILY, (day_start, datetime.combine(day + timedelta(days=1), time(0),
                                                                              tzinfo=cfg.tz)), cfg.daily_budget)
    if "hour" in reached:
        hour = now.replace(minute=0, second=0, microsecond=0)
        return Block(_("The ceiling of %(n)d calls an hour (all sites) is reached.") % {"n": ceiling},
                     CeilingHit.Kind.HOURLY, (hour, hour + timedelta(hours=1)), ceiling)
    if "number" in reached:
        return Block(_("%(phone)s was already called %(n)d times today.") % {"phone": lead.phone,
                                                                             "n": cfg.max_per_number})
    return None


def _ceiling_lock() -> None:
    """Held until the caller's transaction ends (after its attempt is written), and taken in a statement
    before the counts, so that they see the attempt of the dial that held it before. SQLite's writers
    queue anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CEILING_LOCK])


Limits = tuple[tuple[str, int], ...]  # ("site" | "hour" | "number", its limit), for those that are on
# What each count is filtered on, with its type: the keys of the compiled statement.
_LIMIT_KEYS = {"site": {"site_id": int, "day_start": datetime}, "hour": {"hour_ago": datetime},
               "number": {"phone": str, "day_start": datetime}}


def _limits_reached(limits: Limits, keys: dict[str, object]) -> set[str]:
    """The names whose dials number their limit or more. One statement for all of them, each count going
    no further than its limit: a busy hour costs each dial the same."""
    if not limits:
        return set()
    sql, params = _counts_statement(limits).sql_params(**keys)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return {name for (name, limit), count in zip(limits, row) if count >= limit}


@lru_cache(maxsize=32)  # a shape per set of limits: the global ones, and each site's own budget
def _counts_statement(limits: Limits) -> CompiledSQL:
    return CompiledSQL(partial(_counts_sql, limits),
                       **{key: kind for name, _limit in limits for key, kind in _LIMIT_KEYS[name].items()})


def _counts_sql(limits: Limits, *, site_id: int = 0, day_start: datetime | None = None,
                hour_ago: datetime | None = None, phone: str = "") -> tuple[str, list]:
    def dialled(since: datetime | None) -> QuerySet:
        return CallAttempt.objects.filter(created_at__gte=since, status__in=DIALLED)

    dials = {"site": lambda: dialled(day_start).filter(site=site_id), "hour": lambda: dialled(hour_ago),
             "number": lambda: dialled(day_start).filter(phone=phone)}
    counts, params = [], []
    for n, (name, limit) in enumerate(limits):
        sql, dial_params = dials[name]().order_by().values("pk")[:limit].query.sql_with_params()
        counts.append(f"(SELECT COUNT(*) FROM ({sql}) AS dials_{n})")
        params.extend(dial_params)
    return f"SELECT {', '.join(counts)}", params


def dials_of(lead: Lead) -> int:
    return lead.call_attempts.filter(status__in=DIALLED).count()
