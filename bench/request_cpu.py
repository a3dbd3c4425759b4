"""A lead's work piece by piece, in one process: CPU per intake POST, call step, settings GET and result POST.

speed_to_lead.py measures the whole stack; this splits our own code's part from what gunicorn and Celery
add. In one process, with Django's middleware and the views as deployed but no gunicorn and no Celery
worker: N leads are posted through Django's test client, each lead's call step is run (its StartScenarios
goes to the in-process fake VoxImplant), then each call's settings are fetched and its result ("human")
posted, as the scenario does. For each piece it prints the CPU of this thread (the fake's server runs in
a thread of its own, not counted) and of the PostgreSQL backend serving it, per lead.

It creates the PostgreSQL database `leadcaller_reqcpu` (or `--db-name`; dropped first and at the end); the tasks the
intake queues go to Redis under a key prefix of its own, deleted at the end.

    .venv/bin/python bench/request_cpu.py --leads 300
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stack import (  # noqa: E402
    BROKER_URL, PG_SERVER, create_database, drop_database, process_cpu, redis_keys_delete, source_facts,
)
from demo.fakes.voximplant import FakeVoximplant  # noqa: E402

DB_NAME = "leadcaller_reqcpu"
SITE = "bench.example"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--leads", type=int, default=300)
    p.add_argument("--db-name", default=DB_NAME, help="the database to create (and drop at the end)")
    p.add_argument("--profile", choices=["intake", "call", "settings", "result"],
                   help="cProfile this piece (on the CPU clock) and print its top functions")
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lc-reqcpu-"))
    prefix = f"lc-reqcpu-{secrets.token_hex(4)}:"
    vox = FakeVoximplant().start()
    os.environ.update({
        "DATABASE_URL": f"postgres://postgres@{PG_SERVER}/{args.db_name}", "CELERY_BROKER_URL": BROKER_URL,
        "REDIS_KEY_PREFIX": prefix, "LEADCALLER_VAR_DIR": str(tmp / "var"), "VOXIMPLANT_API_URL": vox.url,
        "VOXIMPLANT_CREDENTIALS": str(vox.write_credentials(tmp / "voximplant.json")), "VOXIMPLANT_RULE_ID": "1",
        "VOXIMPLANT_CALLER_ID": "74950000000", "VOXIMPLANT_CALLBACK_SECRET": secrets.token_urlsafe(24),
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000", "CALLING_HOURS": "mon-sun 00:00-24:00",
        "LEAD_LOCAL_HOURS": "00:00-24:00", "SKIP_HOLIDAYS": "false", "THROTTLE_PER_IP": "off",
        "THROTTLE_PER_PHONE": "off", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        # As speed_to_lead.py --budgets: every budget on, none reached.
        "CALL_DAILY_BUDGET": "1000000", "CALL_HOURLY_CEILING": "1000000", "CALL_MAX_PER_NUMBER": "3",
        "DJANGO_SETTINGS_MODULE": "leadcaller.settings",
    })
    create_database(args.db_name)
    try:
        run(args)
    finally:
        vox.stop()
        from django.db import connections

        connections.close_all()
        drop_database(args.db_name)
        redis_keys_delete(prefix)


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from leads.models import Lead, Site
    from leads.pipeline import step_run
    from telephony.models import CallAttempt
    from telephony.scenario import scenario_version
    from telephony.tokens import attempt_token

    call_command("migrate", verbosity=0)
    Site.objects.create(domain=SITE, name="Bench shop")
    client = Client(HTTP_ORIGIN=f"https://{SITE}", HTTP_USER_AGENT="leadcaller-bench/1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    callback, version = "/api/v1/telephony/voximplant/callback/", scenario_version()

    def intake(n: int) -> None:
        body = {"phone": f"+7916{n:07d}", "name": f"Bench {n}", "comment": "speed-to-lead benchmark"}
        answer = client.post("/api/v1/leads/", json.dumps(body), content_type="application/json")
        assert answer.status_code == 201, answer.content

    def settings_get(attempt: int) -> None:
        answer = client.get(callback, {"attempt_id": attempt, "token": attempt_token(attempt)})
        assert answer.status_code == 200, answer.content

    def result(attempt: int) -> None:
        body = {"attempt_id": attempt, "token": attempt_token(attempt), "result": "human", "duration": 12,
                "call_session_history_id": 1000 + attempt, "scenario_version": version}
        answer = client.post(callback, json.dumps(body), content_type="application/json")
        assert answer.status_code == 200 and answer.json()["status"] == "applied", answer.content

    for n in range(10):  # warm-up: imports, caches, statements
        intake(9_000_000 + n)
    warm = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    for pk in warm:
        step_run(step_name="call", lead_id=pk)
    start = warm[-1]
    src = source_facts()
    print(f"source: {(src.get('commit') or '?')[:10]}{' with changes' if src.get('modified_tracked_files') else ''}; "
          f"{args.leads} leads")
    print("piece      this thread   its PostgreSQL backend   (CPU ms per lead)")
    measure("intake", intake, range(args.leads), backend, args.profile)
    leads = list(Lead.objects.filter(pk__gt=start).order_by("pk").values_list("pk", flat=True))
    measure("call", lambda pk: step_run(step_name="call", lead_id=pk), leads, backend, args.profile)
    attempts = list(CallAttempt.objects.filter(lead__in=leads).order_by("pk").values_list("pk", flat=True))
    assert len(attempts) == len(leads), "not every lead was dialled"
    measure("settings", settings_get, attempts, backend, args.profile)
    measure("result", result, attempts, backend, args.profile)
    assert set(Lead.objects.filter(pk__in=leads).values_list("status", flat=True)) == {Lead.Status.REACHED}


def measure(name: str, piece: Callable, items: Iterable, backend: int, profile: str | None) -> None:
    items = list(items)
    profiler = cProfile.Profile(time.thread_time) if profile == name else None
    thread0, pg0 = time.thread_time(), process_cpu(backend)
    if profiler:
        profiler.enable()
    for item in items:
        piece(item)
    if profiler:
        profiler.disable()
    thread, pg = time.thread_time() - thread0, process_cpu(backend) - pg0
    print(f"{name:9s} {1000 * thread / len(items):8.2f} {1000 * pg / len(items):16.2f}")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
