#!/usr/bin/env python
"""Intake: leads per second and latency of `POST /api/v1/leads/`, against a minimal view as the ceiling.

gunicorn (the Procfile's `web` line) on PostgreSQL and Redis, loaded by wrk from a second process.
The same server also mounts `/bench/ceiling/` (bench/urls.py, chosen by DJANGO_SETTINGS_MODULE=
bench.settings: same settings and middleware, a tiny JSON answer, no database). Both endpoints get
the same wrk load (connections, threads, duration), in rounds that alternate which goes first.
Every request is a new lead with its own phone number (bench/intake.lua); after each intake run
the leads are counted in the database: every 201 must be a stored row.

    .venv/bin/python bench/intake.py --duration 15 --connections 8 --rounds 3

No Celery worker runs: the leads' tasks wait in Redis (under this run's key prefix), so this is
the intake alone; bench/scaling.py adds the pipeline. It creates (and drops) the database
`leadcaller_bench_intake`. Needs wrk (`apt-get install wrk`, or `make bench`). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.stack import (  # noqa: E402
    run_facts,
    CpuWatch, Stack, StackConfig, copy_logs, cpu_times, fmt, lock_database_name, log,
    phone_for, raise_interrupt, source_line, write_json,
)

DB_NAME = "leadcaller_bench_intake"
INTAKE_PATH = "/api/v1/leads/"
CEILING_PATH = "/bench/ceiling/"
LUA = ROOT / "bench" / "intake.lua"
TARGET_RATIO = 0.5  # issue 9: intake at least half the ceiling's throughput
STRIDE = 100_000  # phone numbers reserved per wrk thread and run


def wrk_missing() -> str | None:
    if shutil.which("wrk"):
        return None
    return ("wrk is not installed. Install it (Debian/Ubuntu: `apt-get install -y wrk`, or `make bench`, "
            "which does that) and run this again; this script installs nothing itself.")


class PhoneBlocks:
    """Hands out disjoint blocks of 7-digit numbers, one per wrk run and thread."""

    def __init__(self) -> None:
        self.next = random.randrange(0, 1_000_000)

    def take(self, threads: int) -> tuple[int, int]:
        first = self.next
        self.next += threads * STRIDE
        if self.next >= 10_000_000:
            raise RuntimeError("out of phone numbers: fewer rounds or threads")
        return first, first + threads * STRIDE - 1


def run_wrk(port: int, path: str, *, first: int, threads: int, connections: int, duration: float,
            timeout: float = 10.0, pause_ms: int = 0) -> dict[str, Any]:
    """wrk with bench/intake.lua; `pause_ms` > 0 makes each connection wait that long between requests."""
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "--timeout", f"{timeout:g}s",
           "-s", str(LUA), f"http://127.0.0.1:{port}", "--", path, str(first), str(STRIDE), str(pause_ms)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=duration + timeout + 30)
    except subprocess.TimeoutExpired:
        proc.kill()  # by its own pid: a hung wrk must not outlive the run
        proc.communicate()
        raise
    match = re.search(r"^RESULT (\{.*\})$", out, re.M)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{out}\n{err}")
    raw = json.loads(match[1])
    seconds = raw["duration_us"] / 1e6
    statuses = {int(k): v for k, v in raw["statuses"].items()}
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    return {
        "command": shlex.join(cmd), "wrk_pid": proc.pid, "seconds": seconds, "requests": raw["requests"],
        "statuses": statuses, "ok_2xx": ok, "created_201": statuses.get(201, 0),
        "req_per_s": raw["requests"] / seconds, "ok_per_s": ok / seconds,
        "socket_errors": {k: v for k, v in raw["errors"].items() if k != "status" and v},
        "errors": raw["requests"] - ok + sum(v for k, v in raw["errors"].items() if k != "status"),
        "latency_ms": {k: v / 1000 for k, v in raw["latency_us"].items()},
    }


def count_leads(stack: Stack, lo: int, hi: int) -> int:
    with psycopg.connect(stack.db_url) as conn:
        return conn.execute("SELECT count(*) FROM leads_lead WHERE phone BETWEEN %s AND %s",
                            (phone_for(lo), phone_for(hi))).fetchone()[0]


def measured(stack: Stack, name: str, path: str, phones: PhoneBlocks, args: argparse.Namespace) -> dict[str, Any]:
    """One wrk run against one endpoint, with the machine's load and CPU around it."""
    load_before = os.getloadavg()
    first, last = phones.take(args.threads)
    groups = stack.cpu_groups()
    busy0, total0, _ = cpu_times()
    watch = CpuWatch()
    result = run_wrk(stack.web_port, path, first=first, threads=args.threads, connections=args.connections,
                     duration=args.duration)
    used = watch.stop()
    busy1, total1, _ = cpu_times()
    core_seconds, foreign = stack.cpu_split(used, groups, {"wrk": result["wrk_pid"]})
    result.update(endpoint=name, path=path, phones=[first, last], load_before=load_before,
                  load_after=os.getloadavg(), core_seconds=core_seconds,
                  machine_busy_pct=100.0 * (busy1 - busy0) / max(1, total1 - total0), foreign_processes=foreign)
    if name == "intake":
        time.sleep(0.5)  # requests wrk abandoned at the deadline may still be committing
        result["rows_stored"] = count_leads(stack, first, last)
        # Every 201 is a stored lead; a request cut off by wrk's deadline may be stored without its answer.
        result["leads_lost"] = max(0, result["created_201"] - result["rows_stored"])
    log(f"{name:7} {result['req_per_s']:7.1f} req/s  p50 {result['latency_ms']['p50']:.1f} ms  "
        f"p99 {result['latency_ms']['p99']:.1f} ms  errors {result['errors']}  load {load_before[0]:.2f}")
    return result


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def print_report(result: dict[str, Any]) -> None:
    m, src, c = result["machine"], result["source"], result["config"]
    out = ["", "Intake: POST /api/v1/leads/ against a minimal Django view (the ceiling), same gunicorn server",
           f"command : {result['command']}", f"date    : {result['date']}"]
    if line := source_line(src):
        out.append(line)
    out.append(f"machine : nproc {m['nproc']}, {m.get('cpu_model', '?')}, {m.get('mem_total', '?')}; "
               f"Python {m['python']}; PostgreSQL {m.get('postgresql', '?')}; Redis {m.get('redis', '?')}; "
               f"Django {m['packages'].get('Django', '?')}, gunicorn {m['packages'].get('gunicorn', '?')}")
    out.append(f"stack   : gunicorn --workers {c['web_workers']} (sync), no Celery worker (tasks wait in Redis); "
               f"wrk -t{c['threads']} -c{c['connections']} -d{c['duration']:g}s per run, {c['rounds']} rounds")
    out.append(f"load average (1/5/15 min): at start {' '.join(f'{x:.2f}' for x in m['loadavg_at_start'])}, "
               f"at end {' '.join(f'{x:.2f}' for x in result['loadavg_at_end'])}")
    out.append("")
    header = (f"{'round':>5} {'endpoint':<8} | {'req/s':>7} {'p50':>6} {'p90':>6} {'p99':>6} {'max':>6} | "
              f"{'errors':>6} {'201':>6} {'stored':>6} {'lost':>4} | {'busy':>4} {'load before/after':>17}")
    out += [header, "-" * len(header)]
    for r in result["runs"]:
        lat = r["latency_ms"]
        out.append(f"{r['round']:>5} {r['endpoint']:<8} | {r['req_per_s']:>7.1f} {fmt(lat['p50']):>6} "
                   f"{fmt(lat['p90']):>6} {fmt(lat['p99']):>6} {fmt(lat['max']):>6} | {r['errors']:>6} "
                   f"{r['created_201'] if r['endpoint'] == 'intake' else '-':>6} {r.get('rows_stored', '-'):>6} "
                   f"{r.get('leads_lost', '-'):>4} | {r['machine_busy_pct']:>3.0f}% "
                   f"{r['load_before'][0]:>8.2f}/{r['load_after'][0]:<8.2f}")
    out.append("(latency in ms as wrk measured it, closed loop; busy = whole machine during the run)")
    s = result["summary"]
    out.append("")
    out.append(f"mean over rounds: ceiling {s['ceiling_req_per_s']:.1f} req/s (p50 {s['ceiling_p50_ms']:.1f} ms, "
               f"p99 {s['ceiling_p99_ms']:.1f} ms); intake {s['intake_req_per_s']:.1f} leads/s "
               f"(p50 {s['intake_p50_ms']:.1f} ms, p99 {s['intake_p99_ms']:.1f} ms)")
    out.append(f"intake / ceiling = {s['ratio']:.2f} (per round {', '.join(f'{x:.2f}' for x in s['ratio_per_round'])}); "
               f"target >= {TARGET_RATIO}: {'MET' if s['target_met'] else 'NOT MET'}")
    out.append(f"leads: {s['created_201']} answered 201, {s['rows_stored']} stored, {s['leads_lost']} lost "
               f"(stored beyond the 201s: requests cut off by wrk's deadline)")
    for r in result["runs"]:
        cs = r["core_seconds"]
        out.append(f"core-seconds, round {r['round']} {r['endpoint']:<7}: "
                   + ", ".join(f"{k} {v:.1f}" for k, v in cs.items() if k not in ("beat", "workers"))
                   + f"; per request (core-ms): web {1000 * cs['web'] / max(1, r['requests']):.2f}, "
                   f"PostgreSQL {1000 * cs['postgres (this database)'] / max(1, r['requests']):.2f}, "
                   f"Redis {1000 * cs['redis-server'] / max(1, r['requests']):.2f}")
    out.append("(web and wrk processes by pid; PostgreSQL backends by database; 'server' = its background processes)")
    foreign = [(r["round"], r["endpoint"], f) for r in result["runs"] for f in r["foreign_processes"]]
    if foreign:
        out.append("WARNING: other processes used the CPU during runs; those figures are not clean: "
                   + "; ".join(f"round {n} {e}: {f['core_s']} core-s {f['cmd'][:60]}" for n, e, f in foreign[:6]))
    print("\n".join(out), flush=True)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by = {name: [r for r in runs if r["endpoint"] == name] for name in ("ceiling", "intake")}
    ratios = [i["req_per_s"] / c["req_per_s"] for c, i in zip(by["ceiling"], by["intake"]) if c["req_per_s"]]
    ceiling, intake = mean([r["req_per_s"] for r in by["ceiling"]]), mean([r["req_per_s"] for r in by["intake"]])
    created = sum(r["created_201"] for r in by["intake"])
    stored = sum(r["rows_stored"] for r in by["intake"])
    return {
        "ceiling_req_per_s": ceiling, "intake_req_per_s": intake,
        "ceiling_p50_ms": mean([r["latency_ms"]["p50"] for r in by["ceiling"]]),
        "ceiling_p99_ms": mean([r["latency_ms"]["p99"] for r in by["ceiling"]]),
        "intake_p50_ms": mean([r["latency_ms"]["p50"] for r in by["intake"]]),
        "intake_p99_ms": mean([r["latency_ms"]["p99"] for r in by["intake"]]),
        "ratio": intake / ceiling if ceiling else 0.0, "ratio_per_round": ratios,
        "target_met": bool(ceiling and intake / ceiling >= TARGET_RATIO),
        "created_201": created, "rows_stored": stored,
        "leads_lost": sum(r["leads_lost"] for r in by["intake"]),
        "errors": sum(r["errors"] for r in runs),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--duration", type=float, default=15.0, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=8, help="wrk -c")
    p.add_argument("--threads", type=int, default=1, help="wrk -t")
    p.add_argument("--rounds", type=int, default=3, help="ceiling and intake runs, alternating which goes first")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of unmeasured load on each endpoint first")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn --workers")
    p.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the web server")
    p.add_argument("--json", type=Path, default=None, help="write the result here")
    p.add_argument("--keep-logs", type=Path, default=None, metavar="DIR", help="copy the web server's log here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if missing := wrk_missing():
        print(missing, file=sys.stderr)
        return 2
    facts = run_facts("intake.py", argv)
    lock = lock_database_name(DB_NAME)
    tmp = Path(tempfile.mkdtemp(prefix="lc-bench-intake-"))
    stack = Stack(StackConfig(db_name=DB_NAME, web_workers=args.web_workers, worker_concurrency=[], beat=False,
                              log_level=args.log_level, settings_module="bench.settings"), tmp)
    signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        stack.start()
        phones = PhoneBlocks()
        for path in (CEILING_PATH, INTAKE_PATH):
            log(f"warm-up: {args.warmup:g} s on {path}")
            first, _ = phones.take(args.threads)
            warm = run_wrk(stack.web_port, path, first=first, threads=args.threads,
                           connections=args.connections, duration=args.warmup)
            if warm["ok_2xx"] == 0:
                raise RuntimeError(f"warm-up on {path} got no 2xx answer: {warm['statuses']}\n"
                                   f"{stack.procs[0].tail()}")
        runs = []
        for n in range(1, args.rounds + 1):
            order = [("ceiling", CEILING_PATH), ("intake", INTAKE_PATH)]
            for name, path in order if n % 2 else order[::-1]:
                time.sleep(1.0)
                runs.append({"round": n, **measured(stack, name, path, phones, args)})
        result = {
            "benchmark": "intake", **facts,
            "config": {"duration": args.duration, "connections": args.connections, "threads": args.threads,
                       "rounds": args.rounds, "web_workers": args.web_workers, "warmup": args.warmup,
                       "settings": "bench.settings", "processes": {p.name: shlex.join(p.cmd) for p in stack.procs}},
            "runs": runs, "summary": summarise(runs), "loadavg_at_end": os.getloadavg(),
        }
        print_report(result)
        if args.json:
            write_json(args.json, result)
        return 0 if result["summary"]["leads_lost"] == 0 else 1
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        if args.keep_logs:
            copy_logs(stack.procs, args.keep_logs)
        shutil.rmtree(tmp, ignore_errors=True)
        lock.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    sys.exit(main())
