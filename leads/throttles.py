"""Abuse limits on intake, shared by all web processes through the cache.

A browser post is limited per client IP. A post carrying a site's valid intake key comes from
the shop's own server, where every visitor shares one IP, so it is limited per site instead.
Whatever the route, each phone number is limited too: a public form must not become a way to
make us dial one number over and over.

Every lead counts, not every request: a Corezoid envelope of ten ops takes ten of its sender's
allowance (`request.intake_weight`, set by the intake view), so one request cannot carry a burst.
"""

from __future__ import annotations

from types import SimpleNamespace

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from leads.models import IntakeCounter


class _SettingRateThrottle(SimpleRateThrottle):
    setting = ""

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting)


class _WeightedThrottle(_SettingRateThrottle):
    """DRF's sliding window, where one request may take several places (one per lead it carries).

    All or nothing: a request that does not fit whole takes nothing and is refused (429)."""

    counter_kind = ""  # what a refusal is counted as on the dashboard (IntakeCounter.Kind)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.weight = max(1, getattr(request, "intake_weight", 1))
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) + self.weight > self.num_requests:
            return self.throttle_failure()
        self.history[:0] = [self.now] * self.weight
        self.cache.set(self.key, self.history, self.duration)
        return True

    def wait(self) -> float:
        """Seconds until enough earlier places expire for this request to fit."""
        expiring = len(self.history) + self.weight - self.num_requests
        if self.weight > self.num_requests or expiring > len(self.history) or expiring <= 0:
            return float(self.duration)
        return max(1.0, self.history[-expiring] + self.duration - self.now)


class IntakeIPThrottle(_WeightedThrottle):
    scope = "intake-ip"
    setting = "THROTTLE_PER_IP"
    counter_kind = IntakeCounter.Kind.THROTTLED_IP

    def get_cache_key(self, request, view) -> str | None:
        if getattr(request, "keyed_site", None) is not None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class IntakeSiteThrottle(_WeightedThrottle):
    scope = "intake-site"
    setting = "THROTTLE_PER_SITE"
    counter_kind = IntakeCounter.Kind.THROTTLED_SITE

    def get_cache_key(self, request, view) -> str | None:
        site = getattr(request, "keyed_site", None)
        if site is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": site.pk}


class _PhoneThrottle(_SettingRateThrottle):
    scope = "intake-phone"
    setting = "THROTTLE_PER_PHONE"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.phone}


def phone_throttle_wait(phone: str) -> int | None:
    """None when another lead for `phone` is allowed now, else seconds to wait."""
    throttle = _PhoneThrottle()
    if throttle.allow_request(SimpleNamespace(phone=phone), None):
        return None
    return max(1, int(throttle.wait() or 1))
