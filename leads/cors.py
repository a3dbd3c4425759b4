"""CORS for browser forms: an origin may post leads when it is an active site's domain."""

from __future__ import annotations

import re

from corsheaders.signals import check_request_enabled
from django.conf import settings
from django.dispatch import receiver

from leads.selectors import active_site_domains, host_normalize


@receiver(check_request_enabled)
def allow_active_site_origins(sender, request, **kwargs) -> bool:
    # The signal is consulted for every URL, so it repeats the intake-only path check.
    if not re.match(settings.CORS_URLS_REGEX, request.path_info):
        return False
    origin = request.headers.get("Origin", "")
    return bool(origin) and host_normalize(origin) in active_site_domains()
