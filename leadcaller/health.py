"""`GET /healthz`: is the database reachable, is the broker reachable; and, as details that do not
make the service unhealthy, an outdated scenario and the spending ceilings holding calls back now."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from leadcaller.celery import app as celery_app
from telephony.selectors import scenario_status

logger = logging.getLogger(__name__)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=2)


CHECKS = {"database": _database, "broker": _broker}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means "down"; the name says which part
            logger.warning("health check %s failed: %s", name, exc)
            results[name] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in results.values())
    details = _details() if results.get("database") == "ok" else {}
    return JsonResponse({"status": "ok" if healthy else "error", "checks": results, "details": details},
                        status=200 if healthy else 503)


def _details() -> dict:
    """What staff should know but that does not make the service unhealthy: an outdated scenario still
    calls, and a spending ceiling holds calls back without anything being broken."""
    from telephony.ceilings import ceilings_running

    details: dict = {}
    for name, read in (("scenario", lambda: scenario_status().as_dict()),
                       ("ceilings", lambda: ceilings_running(timezone.now()))):
        try:
            details[name] = read()
        except Exception as exc:  # a detail never turns a healthy answer into a 500
            logger.warning("health detail %s failed: %s", name, exc)
            details[name] = {"error": type(exc).__name__}
    return details
