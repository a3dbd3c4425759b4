#!/usr/bin/env python
"""Dashboard server time at a million leads (issue 8).

Creates the PostgreSQL database `leadcaller_dashbench` (dropped first), migrates it, fills it with
dashboard/history.py (the generator `manage.py seed_demo` uses) and asks every dashboard endpoint
for a 30-day and a one-year range through Django's test client, logged in as a superuser. Prints
the median and slowest of --repeat requests per endpoint (after one warm-up request).

    .venv/bin/python bench/dashboard.py --leads 1000000 --days 365 --partners 50 --sites 20

Touches nothing on the server but its own database, dropped at the end unless --keep-db.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.stack import (  # noqa: E402
    PG_SERVER, command_line, create_database, drop_database, log, machine_facts, source_facts, source_line,
)

DB_NAME = "leadcaller_dashbench"
TARGET_MS = {"30 days": 150.0, "a year": 500.0}
ENDPOINTS = [("page", "/dashboard/"), ("series chart", "/dashboard/charts/series/"),
             ("outcome chart", "/dashboard/charts/outcomes/"),
             ("partner sums chart", "/dashboard/charts/partner-sums/?currency=RUB"),
             ("partners CSV", "/dashboard/partners.csv"), ("sites CSV", "/dashboard/sites.csv")]


def database_drop() -> None:
    from django.db import connections

    connections.close_all()
    drop_database(DB_NAME)


def measure(client, url: str, repeat: int) -> dict[str, float]:
    response = client.get(url)  # warm-up; also checks the answer
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _n in range(repeat):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def explain(period) -> None:
    """EXPLAIN ANALYZE of every query the one-year page runs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dashboard import stats

    with CaptureQueriesContext(connection) as captured:
        stats.totals(period), stats.by_partner(period), stats.by_site(period), stats.series(period)
        stats.outcome_breakdown(period), stats.speed_to_lead(period)
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            print("\n" + query["sql"][:300] + "\n" + "\n".join(row[0] for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--partners", type=int, default=50)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per endpoint and range")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the one-year queries")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--database", default=DB_NAME,
                        help=f"name of the database to create and drop (default {DB_NAME})")
    parser.add_argument("--json", help="write the figures to this file too")
    args = parser.parse_args()
    globals()["DB_NAME"] = args.database

    print("command:", command_line("dashboard.py", None))
    print(source_line(source_facts()) or "source  : unknown (not a git checkout)")
    machine = machine_facts()
    print(f"machine : nproc {machine['nproc']}, {machine.get('cpu_model', '?')}, {machine.get('mem_total', '?')}; "
          f"Python {machine['python']}; PostgreSQL {machine.get('postgresql', '?')}; "
          f"load average {' '.join(f'{x:.2f}' for x in machine['loadavg_at_start'])}")
    create_database(DB_NAME)
    os.environ.update(DJANGO_SETTINGS_MODULE="leadcaller.settings", DEBUG="false",
                      DATABASE_URL=f"postgres://postgres@{PG_SERVER}/{DB_NAME}")
    import django

    django.setup()
    try:
        run(args)
    finally:
        if not args.keep_db:
            database_drop()


def run(args) -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from dashboard.filters import DashboardFilter
    from dashboard.history import HistoryPlan, history_generate
    from dashboard.rollups import rollups_refresh

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    plan = HistoryPlan(leads=args.leads, days=args.days, partners=args.partners, sites=args.sites)
    written = history_generate(plan, progress=lambda n: n % 200_000 == 0 and log(f"{n:,} leads written"))
    generated = time.perf_counter() - started
    started = time.perf_counter()
    rollups_refresh(full=True)
    rolled_up = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    print(f"history: {written['leads']:,} leads, {written['attempts']:,} call attempts, "
          f"{written['duplicates']:,} refused duplicates over {args.days} days, {args.partners} partners, "
          f"{args.sites} sites; written in {generated:.0f} s, daily rollups built in {rolled_up:.0f} s "
          f"(then VACUUM ANALYZE); database {size}")

    client = Client(SERVER_NAME="localhost")
    client.force_login(User.objects.create_superuser("bench", password=None))
    today = timezone.localdate()
    ranges = {"30 days": "range=30",
              "a year": f"range=custom&start={today - timedelta(days=args.days - 1)}&end={today}",
              "a year, one site": f"range=custom&start={today - timedelta(days=args.days - 1)}&end={today}&site=1"}
    results = {}
    print(f"\nserver time per request, ms: median / slowest of {args.repeat} (after one warm-up)")
    print(f"{'endpoint':<20}" + "".join(f"{name:>22}" for name in ranges))
    for label, path in ENDPOINTS:
        cells = ""
        for name, query in ranges.items():
            figures = measure(client, f"{path}{'&' if '?' in path else '?'}{query}", args.repeat)
            results[f"{label} | {name}"] = figures
            cells += f"{figures['median_ms']:>14.1f} / {figures['max_ms']:>5.0f}"
        print(f"{label:<20}{cells}")
    for name, limit in TARGET_MS.items():
        worst = max(figures["median_ms"] for key, figures in results.items() if key.endswith(f"| {name}"))
        print(f"target {name}: every endpoint under {limit:.0f} ms: {'met' if worst < limit else 'NOT met'} "
              f"(slowest median {worst:.1f} ms)")
    if args.explain:
        form = DashboardFilter({"range": "custom", "start": today - timedelta(days=args.days - 1), "end": today})
        explain(form.period())
    if args.json:
        Path(args.json).write_text(json.dumps({"history": written, "results": results}, indent=2))


if __name__ == "__main__":
    main()
