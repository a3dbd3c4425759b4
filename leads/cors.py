"""CORS for browser forms: an origin may post leads when it is an active site's domain; the list of those
domains is forgotten when a site changes."""

from __future__ import annotations

import re

from corsheaders.signals import check_request_enabled
from django.conf import settings
from django.core.signals import setting_changed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from leads.models import Site
from leads.selectors import active_site_domains, active_site_domains_forget, host_normalize


@receiver(check_request_enabled)
def allow_active_site_origins(sender, request, **kwargs) -> bool:
    # The signal is consulted for every URL, so it repeats the intake-only path check.
    if not re.match(settings.CORS_URLS_REGEX, request.path_info):
        return False
    origin = request.headers.get("Origin", "")
    return bool(origin) and host_normalize(origin) in active_site_domains()


@receiver(post_save, sender=Site)
@receiver(post_delete, sender=Site)
def forget_site_domains(sender, **kwargs) -> None:
    active_site_domains_forget()


@receiver(setting_changed)
def forget_site_domains_with_the_cache(setting: str, **kwargs) -> None:
    if setting == "CACHES":  # the copy in the process belonged to the cache that is gone
        active_site_domains_forget(shared=False)
