"""Abuse limits on intake, shared by all web processes through the cache.

A browser post is limited per client IP. A post carrying a site's valid intake key comes from
the shop's own server, where every visitor shares one IP, so it is limited per site instead.
Whatever the route, each phone number is limited too: a public form must not become a way to
make us dial one number over and over.
"""

from __future__ import annotations

from types import SimpleNamespace

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class _SettingRateThrottle(SimpleRateThrottle):
    setting = ""

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting)


class IntakeIPThrottle(_SettingRateThrottle):
    scope = "intake-ip"
    setting = "THROTTLE_PER_IP"

    def get_cache_key(self, request, view) -> str | None:
        if getattr(request, "keyed_site", None) is not None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class IntakeSiteThrottle(_SettingRateThrottle):
    scope = "intake-site"
    setting = "THROTTLE_PER_SITE"

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
