"""`GET /healthz`: is the database reachable, is the broker reachable; and, as details that do not
make the service unhealthy, the spending ceilings that are holding calls back now."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from leadcaller.celery import app as celery_app

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
    details = {"ceilings": _ceilings()} if results.get("database") == "ok" else {}
    return JsonResponse({"status": "ok" if healthy else "error", "checks": results, "details": details},
                        status=200 if healthy else 503)


def _ceilings() -> list[dict]:
    from telephony.ceilings import ceilings_running

    try:
        return ceilings_running(timezone.now())
    except Exception as exc:  # a detail must not turn a healthy answer into an error
        logger.warning("could not read the spending ceilings: %s", exc)
        return []
