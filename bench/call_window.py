#!/usr/bin/env python
"""CPU time of the calling-window check that runs before every dial (issue 16; issue 15's budget is
25 core-ms per lead end to end).

Measures, in one process and without a database, what the call step adds per lead: `call_settings_for`
(a site's settings) and `next_allowed` (site hours, the lead-local window in the number's zones,
holidays), for a mix of numbers: Russian fixed lines in several zones, Russian mobiles, a US number,
a US number across a zone line, a German one. "cold" is each number's first look-up in a fresh process
(libphonenumber's parsing and zone data, the holiday tables); "warm" is the same numbers again (the
cached case the call worker lives in); "outside" is a moment outside the window, when the answer also
places the lead in the backlog's ramp (and the timeline's reason is written).

    .venv/bin/python bench/call_window.py --numbers 2000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcaller.settings")
os.environ.setdefault("SKIP_HOLIDAYS", "true")

import django  # noqa: E402

django.setup()

from bench.stack import command_line, machine_facts, source_facts, source_line  # noqa: E402
from leads.models import Site  # noqa: E402
from telephony.call_window import next_allowed, wait_reason  # noqa: E402
from telephony.policy import call_settings_for  # noqa: E402

PREFIXES = ["+7495", "+7423", "+7401", "+7343", "+7383", "+7912", "+7916", "+1212", "+1775", "+4930"]


def numbers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    result = []
    for i in range(count):
        prefix = PREFIXES[i % len(PREFIXES)]
        digits = 11 if prefix.startswith("+7") or prefix.startswith("+1") else 10
        result.append(prefix + "".join(rng.choice("23456789") for _ in range(digits + 1 - len(prefix))))
    return result


def per_lead_us(phones: list[str], action) -> float:
    start = time.process_time()
    for phone in phones:
        action(phone)
    return (time.process_time() - start) / len(phones) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    site = Site(domain="bench.example", time_zone="Europe/Moscow", calling_hours="mon-sun 09:00-21:00")
    cfg = call_settings_for(site)
    inside, outside = datetime(2027, 6, 15, 9, 0, tzinfo=UTC), datetime(2027, 6, 15, 19, 30, tzinfo=UTC)
    phones = numbers(args.numbers, args.seed)

    facts = machine_facts()
    print(f"command : {command_line('call_window.py', None)}")
    print(f"machine : {facts['nproc']} cores, Python {facts['python']}, load average at start "
          f"{', '.join(f'{x:.2f}' for x in facts['loadavg_at_start'])}")
    print(source_line(source_facts()) or "source  : not a git checkout")
    print(f"{len(phones)} numbers, {len(PREFIXES)} prefixes; CPU time per lead (process_time):")
    print(f"  call_settings_for                {per_lead_us(phones, lambda p: call_settings_for(site)):8.1f} us")
    print(f"  next_allowed, cold, inside       {per_lead_us(phones, lambda p: next_allowed(cfg, inside, phone=p)):8.1f} us")
    print(f"  next_allowed, warm, inside       {per_lead_us(phones, lambda p: next_allowed(cfg, inside, phone=p)):8.1f} us")

    def scheduled(phone: str) -> None:
        next_allowed(cfg, outside, phone=phone)
        wait_reason(cfg, outside, phone=phone)

    print(f"  next_allowed + reason, outside   {per_lead_us(phones, scheduled):8.1f} us")


if __name__ == "__main__":
    main()
