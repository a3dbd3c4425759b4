"""`GET /healthz`: is the database reachable, is the broker reachable; details that do not decide the status."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
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
    body = {"status": "ok" if healthy else "error", "checks": results}
    if results["database"] == "ok":
        body["details"] = _details()
    return JsonResponse(body, status=200 if healthy else 503)


def _details() -> dict:
    """What staff should know but that does not make the service unhealthy: an outdated scenario still calls."""
    try:
        return {"scenario": scenario_status().as_dict()}
    except Exception as exc:  # a detail never turns a healthy answer into a 500
        logger.warning("health details failed: %s", exc)
        return {"scenario": {"error": type(exc).__name__}}
