"""`demo_page`: whether to link the /demo/ page (simulators run, and this visitor may see it)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from demo.views import may_see


def demo_page(request: HttpRequest) -> dict[str, bool]:
    return {"demo_page": bool(settings.DEMO_SIMULATORS_URL) and may_see(request)}
