#!/usr/bin/env python
"""What the do-not-call list adds to a dial (issue 16): its two look-ups in `telephony.services._dial`.

Creates the PostgreSQL database `leadcaller_dncbench` (dropped first), migrates it, lists --entries
numbers, and times for numbers that are not listed (every dial's case): the unlocked look-up at the
start of the dial, and the look-up under the number's advisory lock in a transaction of its own,
against the same transaction with one plain SELECT instead (what a dial pays anyway). Prints the
median and 99th percentile in milliseconds, and the query plan of the look-up.

    .venv/bin/python bench/dnc_check.py --entries 100000 --repeat 2000

Touches nothing on the server but its own database, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stack import (  # noqa: E402
    PG_SERVER, command_line, create_database, drop_database, machine_facts, source_facts, source_line,
)

DB_NAME = "leadcaller_dncbench"


def percentiles(times: list[float]) -> str:
    times = sorted(times)
    return f"p50 {statistics.median(times):.2f} ms, p99 {times[int(len(times) * 0.99)]:.2f} ms"


def run(args) -> None:
    from django.core.management import call_command
    from django.db import transaction

    from dnc.models import Entry
    from dnc.numbers import number_hash
    from dnc.services import _applies, dnc_entry_applying, dnc_entry_blocking
    from leads.models import Site

    call_command("migrate", verbosity=0)
    site = Site.objects.create(domain="bench.example", name="Bench")
    Entry.objects.bulk_create([Entry(phone=f"+7912{n:07d}", phone_hash=number_hash(f"+7912{n:07d}"), source="import")
                               for n in range(args.entries)], batch_size=5000)

    def unlocked(phone: str) -> None:
        dnc_entry_applying(phone=phone, site_id=site.pk, partner_id=None)

    def locked(phone: str) -> None:
        with transaction.atomic():
            dnc_entry_blocking(phone=phone, site_id=site.pk, partner_id=None)

    def baseline(phone: str) -> None:
        with transaction.atomic():
            Site.objects.filter(pk=site.pk).exists()

    for name, check in (("unlocked look-up", unlocked), ("locked look-up, own transaction", locked),
                        ("baseline: one SELECT, own transaction", baseline)):
        times = []
        for i in range(args.repeat):
            started = time.perf_counter()
            check(f"+7913{i:07d}")
            times.append((time.perf_counter() - started) * 1000)
        print(f"{name:40} {percentiles(times)}")
    plan = (Entry.objects.filter(_applies(site.pk, None), removed_at=None, phone_hash=number_hash("+79130000001"))
            .order_by("added_at", "id")[:1].explain(analyze=True))
    print("\n" + plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    print("command:", command_line("dnc_check.py", None))
    print(source_line(source_facts()) or "source  : unknown (not a git checkout)")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in machine_facts()['loadavg_at_start'])}")
    create_database(DB_NAME)
    os.environ.update(DJANGO_SETTINGS_MODULE="leadcaller.settings", DEBUG="false",
                      DATABASE_URL=f"postgres://postgres@{PG_SERVER}/{DB_NAME}")
    import django

    django.setup()
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(DB_NAME)


if __name__ == "__main__":
    main()
