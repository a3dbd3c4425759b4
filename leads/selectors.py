"""Read-side look-ups for intake: which site and which partner a lead belongs to."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q

from leadcaller.compiled import CompiledRead
from leads.models import Partner, PartnerRule, Site

_DOMAINS_CACHE_KEY = "leads:active-site-domains"
_DOMAINS_CACHE_SECONDS = 30
# Each process keeps the list this long too: it is read for every browser post, and a round trip to Redis
# per post is the most it would cost.
_DOMAINS_HERE_SECONDS = 5.0
_domains_here: tuple[float, frozenset[str]] | None = None  # (valid until, on the monotonic clock; the list)
# Letters (IDN domains), digits, hyphens and dots: anything else (a NUL, a space) names no site.
_HOST_CHARS = re.compile(r"[^\W_]([\w.-]*[^\W_])?")


# Every post names its site one of these two ways.
_active_site_by_domain: CompiledRead[Site] = CompiledRead(
    lambda domain: Site.objects.filter(domain=domain, is_active=True)[:1], domain=str)
_active_site_by_key: CompiledRead[Site] = CompiledRead(
    lambda key: Site.objects.filter(intake_key=key, is_active=True)[:1], key=str)


@dataclass(frozen=True)
class SiteMatch:
    site: Site | None  # None: unknown and UNKNOWN_SITES=reject
    unknown: bool
    host: str


def host_normalize(value: str) -> str:
    """`https://WWW.Shop.ru:443/cart` or `www.shop.ru:8080` -> `shop.ru`; "" for what is not a host name."""
    value = (value or "").strip().lower()
    try:
        host = urlsplit(value if "//" in value else "//" + value).hostname or ""
    except ValueError:
        return ""
    host = host.strip(".").removeprefix("www.")
    return host if _HOST_CHARS.fullmatch(host) else ""


def site_resolve(*, origin: str, hints: list[str]) -> SiteMatch:
    """The active site a post without an intake key names.

    A browser's Origin decides alone: a page on one origin cannot file leads for another site (nor
    for one that requires its key). Without an Origin (a shop's server, a form builder's webhook),
    the first of `hints` naming an active site does: the `site` field, an envelope's server fields,
    the Referer. Neither is proof, so what they pick is never more than a site that takes keyless posts.
    """
    candidates = [origin] if origin else hints
    hosts = [host for host in (host_normalize(c) for c in candidates if c) if host]
    for host in hosts:
        site = _active_site_by_domain.first(domain=host)
        if site is not None:
            return SiteMatch(site, unknown=False, host=host)
    host = hosts[0] if hosts else ""
    if settings.UNKNOWN_SITES == "reject":
        return SiteMatch(None, unknown=True, host=host)
    return SiteMatch(site_default(), unknown=True, host=host)


def site_by_key(key: str) -> Site | None:
    # A key is printable and fits the column: anything else (a NUL, say) matches no site.
    if not key or not key.isprintable() or len(key) > Site._meta.get_field("intake_key").max_length:
        return None
    return _active_site_by_key.first(key=key)


def site_default() -> Site:
    site = Site.objects.filter(is_default=True).first()
    if site is None:
        site, _ = Site.objects.get_or_create(
            is_default=True, defaults={"domain": "unknown.invalid", "name": "Unknown sites"}
        )
    return site


def active_site_domains() -> frozenset[str]:
    """Domains allowed to post from a browser (CORS); cached briefly, shared by all processes, and for a few
    seconds in each. A site saved or deleted is seen at once by its own process, within seconds by the others."""
    global _domains_here
    now = time.monotonic()
    if _domains_here is not None and now < _domains_here[0]:
        return _domains_here[1]
    domains = cache.get(_DOMAINS_CACHE_KEY)
    if domains is None:
        domains = frozenset(Site.objects.filter(is_active=True, is_default=False).values_list("domain", flat=True))
        cache.set(_DOMAINS_CACHE_KEY, domains, _DOMAINS_CACHE_SECONDS)
    _domains_here = (now + _DOMAINS_HERE_SECONDS, domains)
    return domains


def active_site_domains_forget(*, shared: bool = True) -> None:
    """A site changed (`shared`: the copy in the cache goes too), or the cache was swapped (settings in tests)."""
    global _domains_here
    _domains_here = None
    if shared:
        cache.delete(_DOMAINS_CACHE_KEY)


def partner_resolve(*, code: str, utm_source: str) -> Partner | None:
    """Explicit code (a partner's code or a referral rule) first, then a utm_source rule."""
    return partner_match(code=code, utm_source=utm_source)[0]


def partner_match(*, code: str, utm_source: str) -> tuple[Partner | None, bool]:
    """(partner, whether a code was given that names no active partner). The flag is kept on the lead:
    a mistyped or retired referral code otherwise vanishes without a trace."""
    code, utm_source = code.strip().lower(), utm_source.strip().lower()
    if code:
        partner = Partner.objects.filter(
            Q(code=code) | Q(rules__kind=PartnerRule.Kind.REFERRAL, rules__value=code), is_active=True
        ).first()
        if partner is not None:
            return partner, False
    if utm_source:
        return Partner.objects.filter(is_active=True, rules__kind=PartnerRule.Kind.UTM_SOURCE,
                                      rules__value=utm_source).first(), bool(code)
    return None, bool(code)


QUEUE_SIZE_CAP = 1000


def manual_queue_size() -> str:
    """How many leads wait for a person, as the menu shows it: counted up to a cap (a count over the
    queue's partial index, on every admin page), "999+" beyond it."""
    from leads.models import Lead

    size = Lead.objects.filter(status=Lead.Status.MANUAL).order_by()[:QUEUE_SIZE_CAP].count()
    return f"{QUEUE_SIZE_CAP - 1}+" if size >= QUEUE_SIZE_CAP else str(size)
