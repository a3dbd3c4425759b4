"""Celery's own CPU per task on this machine: what a worker costs for a task that does nothing.

The product's shape fixes some work per lead (three HTTP requests, a call task); this measures the part
of that a task costs before any of our code runs (the broker's round trips, the pool, the worker's log
lines), so that a figure per lead in docs/benchmarks.md can be read against it.

It starts `celery -A leadcaller worker` with the given pool on a queue of its own (a no-op task,
bench/noop_task.py, imported with -I as bench/floor.py is), measures the worker's idle burn, sends N tasks
at RATE a second, and divides the worker's CPU (its whole process tree, less the idle burn) by N. Uses
CELERY_BROKER_URL (Redis by default, under a key prefix of its own, deleted at the end).

    .venv/bin/python bench/task_overhead.py --pool prefork --concurrency 4 --tasks 600 --rate 20
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stack import BIN, BROKER_URL, process_cpu, process_tree, redis_keys_delete  # noqa: E402

TASK = "bench.noop_task.noop"


def tree_cpu(pid: int) -> float:
    """CPU seconds of pid and its descendants (those alive now)."""
    total = 0.0
    for p in process_tree(pid):
        try:
            total += process_cpu(p)
        except (OSError, IndexError):
            pass
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"])
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--tasks", type=int, default=600)
    p.add_argument("--rate", type=float, default=20.0, help="tasks sent per second (open loop)")
    p.add_argument("--loglevel", default="INFO", help="the Procfile's default; the worker logs two lines a task")
    args = p.parse_args()

    tag = secrets.token_hex(4)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadcaller.settings",
           "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", BROKER_URL),
           "REDIS_KEY_PREFIX": f"lc-taskcost-{tag}:", "LEADCALLER_VAR_DIR": f"/tmp/lc-taskcost-{tag}",
           "PYTHONPATH": str(ROOT)}
    os.environ.update(env)
    queue = f"taskcost-{tag}"
    cmd = [str(BIN / "celery"), "-A", "leadcaller", "worker", "-I", "bench.noop_task", "-Q", queue,
           "--pool", args.pool, "--concurrency", str(args.concurrency), "--loglevel", args.loglevel,
           "-n", f"taskcost-{tag}@%h"]
    log = Path(env["LEADCALLER_VAR_DIR"]) / "worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    worker = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        import django

        django.setup()
        from celery import current_app

        for i in range(20):  # warm-up: imports, connections, pool processes
            current_app.send_task(TASK, args=(i,), queue=queue)
        time.sleep(8)
        c0, t0 = tree_cpu(worker.pid), time.monotonic()
        time.sleep(5)
        idle = (tree_cpu(worker.pid) - c0) / (time.monotonic() - t0)
        c0, t0 = tree_cpu(worker.pid), time.monotonic()
        for i in range(args.tasks):
            current_app.send_task(TASK, args=(i,), queue=queue)
            time.sleep(max(0.0, t0 + (i + 1) / args.rate - time.monotonic()))
        time.sleep(2)
        elapsed, used = time.monotonic() - t0, tree_cpu(worker.pid) - c0
        done = log.read_text().count("succeeded in")
        print(f"celery worker --pool {args.pool} --concurrency {args.concurrency} --loglevel {args.loglevel}: "
              f"{args.tasks} no-op tasks at {args.rate}/s; {done - 20} succeeded in the window")
        print(f"  {1000 * (used - idle * elapsed) / args.tasks:.2f} core-ms per task "
              f"(worker's tree {used:.2f} core-s in {elapsed:.1f} s, "
              f"less its idle burn of {1000 * idle:.1f} core-ms/s)")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        if env["CELERY_BROKER_URL"].startswith("redis://"):
            redis_keys_delete(env["REDIS_KEY_PREFIX"], env["CELERY_BROKER_URL"])


if __name__ == "__main__":
    main()
