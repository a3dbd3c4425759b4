#!/usr/bin/env python
"""Scaling: the intake load of bench/intake.py with the pipeline behind it, on 1 and on 2 Celery workers.

For each worker count, a fresh stack (bench/stack.py: gunicorn, N `celery worker` processes with
`--concurrency 1` each unless told otherwise, beat, on PostgreSQL and Redis; the fake VoxImplant answers every call after
1-3 s and posts the result back; a Bitrix24 stand-in answers after `--bitrix-delay` s) gets the same
wrk load on `POST /api/v1/leads/` for `--duration` seconds. Then it waits until every stored lead
has been dialled. Reported: intake leads/s and latency, leads dialled per second while the load ran
and overall, the time the backlog took to drain after the load, speed to lead (lead row written ->
StartScenarios at the fake), and CPU per process group in both phases.

    .venv/bin/python bench/scaling.py --workers 1 2 --duration 5 --connections 8

`--pause-ms` slows each wrk connection down (a rough fixed rate) to look below saturation. It
creates (and drops) the database `leadcaller_bench_scaling`; Redis keys under a random prefix are
deleted at the end. Needs wrk. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.intake import INTAKE_PATH, PhoneBlocks, run_wrk, wrk_missing  # noqa: E402
from bench.stack import (  # noqa: E402
    run_facts,
    CpuWatch, Stack, StackConfig, cpu_times, fmt, lock_database_name, log, phone_for,
    raise_interrupt, source_line, start_scenarios_by_phone, summary, write_json,
)

DB_NAME = "leadcaller_bench_scaling"


def dial_times(stack: Stack) -> dict[str, float]:
    """phone -> first StartScenarios receive time (monotonic) at the fake VoxImplant."""
    return {phone: min(times) for phone, times in start_scenarios_by_phone(stack).items()}


def stored_leads(stack: Stack, lo: int, hi: int) -> dict[str, dict[str, Any]]:
    sql = ("SELECT phone, extract(epoch FROM created_at)::float8, crm_state, call_state, notify_state "
           "FROM leads_lead WHERE phone BETWEEN %s AND %s")
    with psycopg.connect(stack.db_url) as conn:
        rows = conn.execute(sql, (phone_for(lo), phone_for(hi))).fetchall()
    return {r[0]: {"created": r[1], "crm": r[2], "call": r[3], "notify": r[4]} for r in rows}


_SUCCEEDED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO celery\.app\.trace "
                        r"Task (\S+)\[[0-9a-f-]+\] succeeded in ([0-9.e-]+)s")


def task_time(stack: Stack, since: float, until: float) -> dict[str, list[float]]:
    """Task name -> [tasks finished, seconds they ran] between two wall-clock times (worker logs)."""
    result: dict[str, list[float]] = {}
    for p in stack.procs:
        if p.name.startswith("worker"):
            for line in p.log_path.read_text(errors="replace").splitlines():
                if m := _SUCCEEDED.match(line):
                    at = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local time, as logged
                    if since <= at < until:
                        entry = result.setdefault(m[2].rsplit(".", 1)[-1], [0, 0.0])
                        entry[0] += 1
                        entry[1] += float(m[3])
    return result


class Meter:
    """CPU of each process group (and the machine) between two moments."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.groups = stack.cpu_groups()
        self.t0 = time.monotonic()
        self.busy0, self.total0, _ = cpu_times()
        self.watch = CpuWatch()

    def stop(self, wrk_pid: int | None = None) -> dict[str, Any]:
        used = self.watch.stop()
        seconds = time.monotonic() - self.t0
        busy1, total1, _ = cpu_times()
        core_s, foreign = self.stack.cpu_split(used, self.groups, {"wrk": wrk_pid} if wrk_pid else None)
        return {"seconds": seconds, "machine_busy_pct": 100.0 * (busy1 - self.busy0) / max(1, total1 - self.total0),
                "core_pct": {k: round(100.0 * v / seconds, 1) for k, v in core_s.items()},
                "foreign_processes": foreign}


def one_config(workers: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    stack = Stack(StackConfig(db_name=DB_NAME, web_workers=args.web_workers,
                              worker_concurrency=[args.concurrency] * workers,
                              beat=True, call_delay=(1.0, 3.0), bitrix_delay=args.bitrix_delay,
                              log_level=args.log_level), tmp)
    try:
        stack.start()
        phones = PhoneBlocks()
        log(f"{workers} worker(s): warm-up")
        first, last = phones.take(1)
        run_wrk(stack.web_port, INTAKE_PATH, first=first, threads=1, connections=2, duration=2, pause_ms=100)
        wait_drained(stack, first, last, timeout=60)
        time.sleep(2.0)

        load_before = os.getloadavg()
        first, last = phones.take(args.threads)
        mono_to_wall = time.time() - time.monotonic()
        meter = Meter(stack)
        t0 = time.monotonic()
        wrk = run_wrk(stack.web_port, INTAKE_PATH, first=first, threads=args.threads,
                      connections=args.connections, duration=args.duration, pause_ms=args.pause_ms)
        t1 = time.monotonic()
        load_phase = meter.stop(wrk["wrk_pid"])
        log(f"{workers} worker(s): intake {wrk['req_per_s']:.1f} leads/s; waiting for the backlog to be dialled")
        meter = Meter(stack)
        drained = wait_drained(stack, first, last, timeout=args.drain_timeout)
        t2 = time.monotonic()
        drain_phase = meter.stop()
        load_after = os.getloadavg()
        time.sleep(0.5)  # the last log lines
        wall = [t + mono_to_wall for t in (t0, t1, t2)]
        children = workers * args.concurrency
        tasks = {"load": task_time(stack, wall[0], wall[1]), "drain": task_time(stack, wall[1], wall[2])}
        busy = {phase: 100.0 * sum(v[1] for v in tasks[phase].values()) / (children * (b - a))
                for phase, (a, b) in (("load", wall[:2]), ("drain", wall[1:]))}
        rows = stored_leads(stack, first, last)
        dials = {p: t for p, t in dial_times(stack).items() if p in rows}
        stl = [(dials[p] + mono_to_wall - r["created"]) * 1000 for p, r in rows.items() if p in dials]
        last_dial = max(dials.values(), default=t1)
        dialled_in_load = sum(1 for t in dials.values() if t <= t1)
        return {
            "workers": workers, "processes": {p.name: shlex.join(p.cmd) for p in stack.procs},
            "load_before": load_before, "load_after": load_after,
            "intake": {k: wrk[k] for k in ("seconds", "requests", "statuses", "req_per_s", "errors", "latency_ms",
                                           "created_201")},
            "leads_stored": len(rows), "leads_lost": max(0, wrk["created_201"] - len(rows)),
            "dialled": len(dials), "drained": drained,
            "dialled_per_s_during_load": dialled_in_load / (t1 - t0),
            "dialled_per_s_overall": len(dials) / max(1e-9, last_dial - t0),
            "backlog_at_load_end": len(rows) - dialled_in_load,
            "drain_s": max(0.0, last_dial - t1),
            "speed_to_lead_ms": summary(stl),
            "states": {s: dict(Counter(r[s] for r in rows.values())) for s in ("call", "crm", "notify")},
            "bitrix_requests": stack.bitrix.count if stack.bitrix else None,
            "cpu_load_phase": load_phase, "cpu_drain_phase": drain_phase,
            "phase_seconds": {"load": t1 - t0, "drain": t2 - t1},
            "tasks": tasks, "children_busy_pct": busy,
        }
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        stack.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)


def wait_drained(stack: Stack, lo: int, hi: int, timeout: float) -> bool:
    """Until every stored lead of the phone range has had its StartScenarios (or timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = stored_leads(stack, lo, hi)
        dials = dial_times(stack)
        if rows and all(p in dials for p in rows):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)


def print_report(result: dict[str, Any]) -> None:
    m, src, c = result["machine"], result["source"], result["config"]
    out = ["", "Scaling: intake under wrk plus the pipeline (calls, CRM, notifications), 1 vs 2 Celery workers",
           f"command : {result['command']}", f"date    : {result['date']}"]
    if line := source_line(src):
        out.append(line)
    out.append(f"machine : nproc {m['nproc']}, {m.get('cpu_model', '?')}, {m.get('mem_total', '?')}; "
               f"Python {m['python']}; PostgreSQL {m.get('postgresql', '?')}; Redis {m.get('redis', '?')}")
    out.append(f"stack   : gunicorn --workers {c['web_workers']}; N x `celery worker --concurrency {c['concurrency']}`; "
               f"beat; "
               f"calls answered after 1-3 s; Bitrix24 stand-in {c['bitrix_delay']} s/request; "
               f"wrk -t{c['threads']} -c{c['connections']} -d{c['duration']:g}s"
               + (f", {c['pause_ms']} ms pause per connection" if c["pause_ms"] else " (closed loop, no pause)"))
    out.append(f"load average (1 min): at start {m['loadavg_at_start'][0]:.2f}, at end {result['loadavg_at_end'][0]:.2f}")
    out.append("")
    header = (f"{'workers':>7} | {'intake/s':>8} {'p50':>5} {'p99':>5} {'err':>4} | {'stored':>6} {'lost':>4} | "
              f"{'dialled/s load':>14} {'overall':>7} {'backlog':>7} {'drain s':>7} | "
              f"{'STL p50':>7} {'p90':>6} {'p99':>6} {'max':>6} | {'load avg':>9}")
    out += [header, "-" * len(header)]
    for r in result["runs"]:
        i, s = r["intake"], r["speed_to_lead_ms"]
        out.append(f"{r['workers']:>7} | {i['req_per_s']:>8.1f} {fmt(i['latency_ms']['p50']):>5} "
                   f"{fmt(i['latency_ms']['p99']):>5} {i['errors']:>4} | {r['leads_stored']:>6} {r['leads_lost']:>4} | "
                   f"{r['dialled_per_s_during_load']:>14.1f} {r['dialled_per_s_overall']:>7.1f} "
                   f"{r['backlog_at_load_end']:>7} {r['drain_s']:>7.1f} | {fmt(s['p50']):>7} {fmt(s['p90']):>6} "
                   f"{fmt(s['p99']):>6} {fmt(s['max']):>6} | {r['load_before'][0]:>4.2f}/{r['load_after'][0]:<4.2f}")
    out.append("(intake latency and speed to lead in ms; STL = lead row written -> StartScenarios at the fake; "
               "backlog = stored leads not yet dialled when the load stopped)")
    out.append("")
    out.append("CPU, % of one core (the machine has " + str(m["nproc"]) + " cores = " + str(100 * m["nproc"]) + "%):")
    for r in result["runs"]:
        for phase in ("load", "drain"):
            p = r[f"cpu_{phase}_phase"]
            out.append(f"  {r['workers']} worker(s), {phase:<5} ({p['seconds']:5.1f} s): machine "
                       f"{p['machine_busy_pct']:.0f}% busy; " + ", ".join(f"{k} {v:.0f}" for k, v in p["core_pct"].items()))
            if p["foreign_processes"]:
                out.append("    WARNING, other processes used the CPU: "
                           + "; ".join(f"{f['core_s']} core-s {f['cmd'][:60]}" for f in p["foreign_processes"][:4]))
    out.append("worker children's time in tasks (worker logs; a task waiting on Bitrix24 counts as busy):")
    for r in result["runs"]:
        for phase in ("load", "drain"):
            out.append(f"  {r['workers']} worker(s), {phase:<5}: children busy {r['children_busy_pct'][phase]:.0f}%; "
                       + ", ".join(f"{name} {int(n)} ({sec:.1f} s)" for name, (n, sec)
                                   in sorted(r["tasks"][phase].items(), key=lambda kv: -kv[1][1])))
    for r in result["runs"]:
        out.append(f"  {r['workers']} worker(s): states call {r['states']['call']}, crm {r['states']['crm']}, "
                   f"notify {r['states']['notify']}; Bitrix24 requests {r['bitrix_requests']}; "
                   f"drained {'yes' if r['drained'] else 'NO (timeout)'}")
    print("\n".join(out), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                   help="worker counts to compare (each a `celery worker --concurrency C` process)")
    p.add_argument("--concurrency", type=int, default=1, help="celery worker --concurrency of each worker process")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of wrk load")
    p.add_argument("--connections", type=int, default=8, help="wrk -c")
    p.add_argument("--threads", type=int, default=1, help="wrk -t")
    p.add_argument("--pause-ms", type=int, default=0, help="pause of each wrk connection between requests")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn --workers")
    p.add_argument("--bitrix-delay", type=float, default=0.2, help="seconds the Bitrix24 stand-in takes per request")
    p.add_argument("--drain-timeout", type=float, default=300.0, help="seconds to wait for the backlog to be dialled")
    p.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of web and workers")
    p.add_argument("--json", type=Path, default=None, help="write the result here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if missing := wrk_missing():
        print(missing, file=sys.stderr)
        return 2
    facts = run_facts("scaling.py", argv)
    lock = lock_database_name(DB_NAME)
    signal.signal(signal.SIGTERM, raise_interrupt)
    runs = []
    try:
        for workers in args.workers:
            tmp = Path(tempfile.mkdtemp(prefix="lc-bench-scaling-"))
            try:
                runs.append(one_config(workers, args, tmp))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        result = {
            "benchmark": "scaling", **facts,
            "config": {k: getattr(args, k) for k in ("workers", "concurrency", "duration", "connections", "threads",
                                                     "pause_ms",
                                                     "web_workers", "bitrix_delay")},
            "runs": runs, "loadavg_at_end": os.getloadavg(),
        }
        print_report(result)
        if args.json:
            write_json(args.json, result)
        return 0 if all(r["drained"] and not r["leads_lost"] for r in runs) else 1
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        lock.close()


if __name__ == "__main__":
    sys.exit(main())
