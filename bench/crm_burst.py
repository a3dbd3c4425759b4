#!/usr/bin/env python
"""CRM burst: how long 200 leads that arrive at once take to reach Bitrix24.

Real `celery worker` processes on PostgreSQL and Redis run the CRM step against the local fake
Bitrix24 (demo/fakes/bitrix24.py, in this process), which enforces the real leaky bucket
(threshold 50, drains 2 requests/s) and answers every request after `--latency` seconds. The
leads are written as intake writes them and their CRM tasks are sent at once; the clock stops
when the fake holds all of them. A one-request-per-lead client at 2 requests/s needs leads/2 s.

    .venv/bin/python bench/crm_burst.py --leads 200 --latency 1.0

It creates (and drops) the PostgreSQL database `leadcaller_bench_crm`; Redis keys live under a
random REDIS_KEY_PREFIX and are deleted at the end (never a flush: Redis is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stack import BROKER_URL, PG_SERVER, create_database, drop_database, redis_keys_delete  # noqa: E402
from demo.fakes.bitrix24 import FakeBitrix24  # noqa: E402

DB_NAME = "leadcaller_bench_crm"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the fake takes per request")
    parser.add_argument("--worker-processes", type=int, default=1)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    prefix = f"lc-bench-crm-{secrets.token_hex(4)}:"
    var_dir = Path(tempfile.mkdtemp(prefix="leadcaller-bench-crm-"))
    fake = FakeBitrix24(latency=args.latency, burst=50, drain_per_second=2.0).start()
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@{PG_SERVER}/{DB_NAME}",
           "CELERY_BROKER_URL": BROKER_URL, "REDIS_KEY_PREFIX": prefix, "LEADCALLER_VAR_DIR": str(var_dir),
           "BITRIX_WEBHOOK_URL": fake.webhook_url, "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "leadcaller.settings"}
    os.environ.update(env)
    create_database(DB_NAME)
    workers: list[subprocess.Popen] = []
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        import django

        django.setup()
        from celery import current_app
        from django.utils import timezone

        from leads.models import Lead, Site
        from leads.pipeline import initial_step_fields

        for _ in range(args.worker_processes):
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "leadcaller", "worker", "-Q", "crm", "--concurrency",
                 str(args.worker_concurrency), "--without-gossip", "--without-mingle", "-l", "WARNING"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(6)  # workers up

        site = Site.objects.create(domain="bench.example", name="Bench")
        now = timezone.now()
        leads = Lead.objects.bulk_create([
            Lead(site=site, ref=f"+7912{i:07d}", phone=f"+7912{i:07d}", phone_raw=f"+7912{i:07d}", name=f"Lead {i}",
                 call_state="skipped", notify_state="skipped", **initial_step_fields(now)) for i in range(args.leads)])
        started = time.monotonic()
        for lead in leads:
            current_app.send_task("leads.tasks.crm_step", args=(lead.pk,))
        reached = fake.wait_for(lambda: len(fake.leads) >= args.leads, timeout=300)
        elapsed = time.monotonic() - started
        requests = fake.requests
        result = {
            "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "leads": args.leads, "fake_latency_s": args.latency,
            "worker_processes": args.worker_processes, "worker_concurrency": args.worker_concurrency,
            "all_reached": bool(reached), "seconds_to_reach_bitrix24": round(elapsed, 2),
            "leads_in_bitrix24": len(fake.leads),
            "duplicates": len(fake.leads) - len({v["ORIGIN_ID"] for v in fake.leads.values()}),
            "requests": len(requests), "batch_requests": sum(r.method == "batch" for r in requests),
            "requests_by_method": dict(Counter(r.method for r in requests)),
            "query_limit_exceeded": sum(r.status == 503 for r in requests),
            "peak_requests_in_1s": fake.peak_rate(1.0),
            "naive_seconds_at_2_per_s": args.leads / 2.0,
        }
        time.sleep(1)
        result["crm_done_in_db"] = Lead.objects.filter(crm_state="done").count()
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        fake.stop()
        from django.db import connections

        connections.close_all()
        drop_database(DB_NAME)
        redis_keys_delete(prefix, BROKER_URL)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["all_reached"] and result["query_limit_exceeded"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
