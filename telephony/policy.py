"""A site's calling settings, with the global ones filling the blanks, and the guards on the bill."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

from leads.models import Lead, Site, parse_dates
from telephony.calling_hours import CallingHours, next_call_time, parse_calling_hours
from telephony.models import CallAttempt


@dataclass(frozen=True)
class CallSettings:
    rule_id: str
    caller_id: str
    hours: CallingHours
    tz: ZoneInfo
    closed: frozenset
    regions: tuple[str, ...]
    daily_budget: int  # 0: no limit
    max_per_number: int  # 0: no limit
    max_attempts: int
    retry_after: timedelta


def call_settings_for(site: Site) -> CallSettings:
    regions = [code.strip().upper() for code in site.call_allowed_regions.split(",") if code.strip()]
    return CallSettings(
        rule_id=site.call_rule_id or settings.VOXIMPLANT_RULE_ID,
        caller_id=site.caller_id or settings.VOXIMPLANT_CALLER_ID,
        hours=parse_calling_hours(site.calling_hours or settings.CALLING_HOURS),
        tz=ZoneInfo(site.time_zone or settings.CALLING_TIME_ZONE),
        closed=parse_dates(site.non_calling_dates),
        regions=tuple(regions or settings.CALL_ALLOWED_REGIONS),
        daily_budget=settings.CALL_DAILY_BUDGET if site.call_daily_budget is None else site.call_daily_budget,
        max_per_number=settings.CALL_MAX_PER_NUMBER if site.call_max_per_number is None else site.call_max_per_number,
        max_attempts=max(1, site.call_max_attempts),
        retry_after=timedelta(minutes=site.call_retry_minutes),
    )


def next_allowed(cfg: CallSettings, moment: datetime) -> datetime | None:
    return next_call_time(moment, cfg.hours, cfg.tz, closed=cfg.closed)


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
    return None


# Attempts that reached the provider count against the budget; a request it refused does not.
DIALLED = (CallAttempt.Status.STARTING, CallAttempt.Status.STARTED, CallAttempt.Status.FINISHED,
           CallAttempt.Status.LOST)


def budget_block_reason(lead: Lead, cfg: CallSettings, now: datetime) -> str | None:
    """Why the bill forbids another dial of this lead today (site budget, number cooldown), or None.

    "Today" is the site's calendar day. Call it while holding the site's row lock, so two
    workers cannot both take the last call of the budget.
    """
    day_start = datetime.combine(now.astimezone(cfg.tz).date(), time(0), tzinfo=cfg.tz)
    today = CallAttempt.objects.filter(created_at__gte=day_start, status__in=DIALLED)
    if cfg.daily_budget and today.filter(lead__site=lead.site_id).count() >= cfg.daily_budget:
        return _("The site's budget of %(n)d calls a day is used up.") % {"n": cfg.daily_budget}
    if cfg.max_per_number and today.filter(phone=lead.phone).count() >= cfg.max_per_number:
        return _("%(phone)s was already called %(n)d times today.") % {"phone": lead.phone, "n": cfg.max_per_number}
    return None


def dials_of(lead: Lead) -> int:
    return lead.call_attempts.filter(status__in=DIALLED).count()
