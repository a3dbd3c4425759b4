"""Whether to offer the dashboard link: the same rule the dashboard itself applies."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def dashboard_link(request: HttpRequest) -> dict:
    from dashboard.access import dashboard_allowed

    # Lazy: only the pages that show the link pay for the group look-up.
    return {"dashboard_allowed": SimpleLazyObject(lambda: dashboard_allowed(request.user))}
