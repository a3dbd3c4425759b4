#!/usr/bin/env python
"""Speed to lead: from `POST /api/v1/leads/` to the `StartScenarios` request at VoxImplant.

The production processes on PostgreSQL and Redis: gunicorn (the Procfile's `web` line), real
`celery worker` processes (the `worker` line) and `celery beat`; VoxImplant is the local fake
from demo/fakes/voximplant.py, running in this process, whose scenario simulator posts each
call's result back to the web server after a short random delay (so the callback path is under
load too). Leads are sent open loop: lead i leaves at t0 + i/rate whatever the answers do.

    .venv/bin/python bench/speed_to_lead.py --leads 200 --rate 20 --json var/bench/stl.json

Speed to lead of one lead = the fake's receive time of the StartScenarios request carrying the
lead's phone minus the time just before its POST was sent (both time.monotonic() in this
process). It creates (and drops) the PostgreSQL database `leadcaller_bench`; Redis keys live
under a random `REDIS_KEY_PREFIX` and are deleted at the end. See bench/README.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import random
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.stack import (  # noqa: E402
    SITE_DOMAIN,
    CpuWatch,
    Stack,
    StackConfig,
    copy_logs,
    cpu_times,
    fmt,
    lock_database_name,
    log,
    pg_sessions,
    pg_statements,
    pg_statements_reset,
    phone_for,
    raise_interrupt,
    run_facts,
    source_line,
    start_scenarios_by_phone,
    summary,
    write_json,
)

DB_NAME = "leadcaller_bench"
# Backends that served the bench's own look-ups (lead_rows): not the stack's work.
BENCH_BACKENDS: set[int] = set()
TARGET = {"p50_ms": 300.0, "p99_ms": 1000.0}  # issue 4
# --budgets: the shipped checks (a site's calls a day, every site's calls an hour under one lock, calls a
# day per number) on, each with a limit no run reaches, so that their cost is in the figures.
BUDGETS_ON = {"CALL_DAILY_BUDGET": "1000000", "CALL_HOURLY_CEILING": "1000000", "CALL_MAX_PER_NUMBER": "3"}


# --- one lead -----------------------------------------------------------------------------------
@dataclass
class Sent:
    index: int
    phone: str
    scheduled: float  # monotonic
    sent: float = 0.0  # monotonic, just before the request
    answered: float | None = None
    status: int | None = None
    error: str = ""
    lead_id: str = ""



class Run(Stack):
    """The stack configured from the command line, which it keeps as `args`."""

    def __init__(self, args: argparse.Namespace, tmp: Path):
        super().__init__(StackConfig(
            db_name=DB_NAME, web_workers=args.web_workers, worker_concurrency=args.worker_concurrency,
            queues=args.queues, beat=args.beat, call_delay=args.call_delay, bitrix_delay=args.bitrix_delay,
            log_level=args.log_level, keep_db=args.keep_db, procfile=args.procfile,
            procfile_env={"WORKER_CONCURRENCY": str(args.worker_concurrency[0]),
                          "CALL_CONCURRENCY": str(args.call_concurrency)},
            bitrix_fake_latency=args.bitrix_fake, telegram=args.telegram, floor=args.floor,
            settings_fetch=args.settings_fetch,
            extra_env={**(census_env(tmp) if args.count_statements else {}), **(BUDGETS_ON if args.budgets else {})},
            settings_module="bench.settings" if args.floor else "leadcaller.settings"), tmp)
        self.args = args


def census_env(tmp: Path) -> dict[str, str]:
    """bench/statement_census/sitecustomize.py in every process the stack starts, writing under tmp."""
    folder = tmp / "statements"
    folder.mkdir()
    path = os.pathsep.join(filter(None, [str(ROOT / "bench" / "statement_census"), os.environ.get("PYTHONPATH")]))
    return {"LC_STATEMENT_CENSUS_DIR": str(folder), "PYTHONPATH": path}


def statement_census(tmp: Path) -> Counter[str]:
    """The statements counted so far by every process (bench/statement_census), summed."""
    total: Counter[str] = Counter()
    for path in (tmp / "statements").glob("*.json"):
        try:
            total.update(json.loads(path.read_text()))
        except (OSError, ValueError):  # being rewritten this instant: the next read has it
            pass
    return total


def post_lead(port: int, item: Sent, origin: str, path: str = "/api/v1/leads/") -> Sent:
    body = json.dumps({"phone": item.phone, "name": f"Bench {item.index}", "comment": "speed-to-lead benchmark"})
    headers = {"Content-Type": "application/json", "Origin": origin, "User-Agent": "leadcaller-bench/1"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        item.sent = time.monotonic()
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        item.answered = time.monotonic()
        item.status = resp.status
        try:
            item.lead_id = str(json.loads(raw).get("id", ""))
        except ValueError:
            item.error = raw[:200].decode("utf-8", "replace")
        if resp.status != 201 and not item.error:
            item.error = raw[:200].decode("utf-8", "replace")
    except Exception as exc:  # noqa: BLE001  counted as an error, never raised
        item.answered = time.monotonic()
        item.error = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    return item


def send_open_loop(run: Run, items: list[Sent], rate: float, path: str = "/api/v1/leads/") -> None:
    """Lead i is handed to the pool at t0 + i/rate; nothing waits for an answer."""
    origin = f"https://{SITE_DOMAIN}"
    with concurrent.futures.ThreadPoolExecutor(max_workers=run.args.max_in_flight) as pool:
        t0 = time.monotonic() + 0.2
        futures = []
        for i, item in enumerate(items):
            item.scheduled = t0 + i / rate
            delay = item.scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(post_lead, run.web_port, item, origin, path))
        concurrent.futures.wait(futures)


def wait_for_calls(run: Run, phones: list[str], timeout: float) -> dict[str, list[float]]:
    deadline = time.monotonic() + timeout
    while True:
        found = start_scenarios_by_phone(run)
        if all(p in found for p in phones) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)



class FirstSeen:
    """Polls the Bitrix24 and Telegram fakes: when each bench lead ("Bench <i>") first appeared in the
    CRM and in the chat (a card or a digest line), in this process's monotonic clock."""

    _NAME = re.compile(r"Bench (\d+)\b")

    def __init__(self, run: Run, interval: float = 0.1):
        import threading

        self.run, self.crm, self.chat = run, {}, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval,), daemon=True)
        self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            now = time.monotonic()
            if self.run.b24 is not None:
                for lead in self.run.b24.leads.values():
                    for m in self._NAME.finditer(f"{lead.get('NAME', '')} {lead.get('TITLE', '')}"):
                        self.crm.setdefault(int(m[1]), now)
            if self.run.tg is not None:
                for message in self.run.tg.messages(self.run.tg_chat):
                    for m in self._NAME.finditer(message.plain):
                        self.chat.setdefault(int(m[1]), now)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def log_task_counts(run: Run, since_wall: float) -> Counter:
    """Celery tasks received by the product's workers since `since_wall`, by name (worker INFO lines)."""
    tasks = worker_log_tasks([p.log_path for p in run.procs if p.name.startswith(("worker", "call"))])
    return Counter(t["name"] for t in tasks.values() if t.get("received", 0) >= since_wall)


def cpu_groups_split(run: Run) -> dict[str, list[int]]:
    """The CPU groups, and the workers' share split by Procfile line: the dial's worker apart from the CRM/notify
    pool."""
    groups = run.cpu_groups()
    for proc in run.procs:
        if proc.name.startswith(("worker", "call")):
            groups[f"  of which {proc.name}"] = proc.tree()
    return groups


def floor_run(run: Run, items: list[Sent], rate: float, timeout: float) -> dict[str, Any]:
    """The same number of leads at the same rate through bench/floor.py: POST -> StartScenarios, and the
    CPU that took (web, floor worker, PostgreSQL)."""
    groups, watch = run.cpu_groups(), CpuWatch()
    send_open_loop(run, items, rate, path="/bench/floor/")
    calls = wait_for_calls(run, [x.phone for x in items], timeout=timeout)
    split = watched_core_seconds(watch.stop(), groups)
    parts = {name: split[name] for name in ("web", "floor worker", "postgres (all)")}
    core_s = sum(parts.values())
    stl = [(calls[x.phone][0] - x.sent) * 1000 for x in items if x.phone in calls]
    post_ms = [(x.answered - x.sent) * 1000 for x in items if x.answered is not None and x.status == 201]
    return {"leads": len(items), "post_errors": sum(x.status != 201 for x in items),
            "missing": sum(x.phone not in calls for x in items), "speed_to_lead_ms": summary(stl),
            "post_latency_ms": summary(post_ms), "core_ms_per_lead": round(1000 * core_s / len(items), 1),
            "core_ms_per_lead_by_group": {name: round(1000 * v / len(items), 1) for name, v in parts.items()}}


# --- analysis ---------------------------------------------------------------------------------------
def lead_rows(run: Run, phones: list[str]) -> dict[str, dict[str, Any]]:
    """Per phone: lead state and the timestamps the pipeline wrote (epoch seconds)."""
    sql = """
        SELECT /* bench */ l.phone, l.status, l.crm_state, l.call_state, l.notify_state,
               extract(epoch FROM l.created_at),
               (SELECT extract(epoch FROM min(a.created_at)) FROM telephony_callattempt a WHERE a.lead_id = l.id),
               (SELECT count(*) FROM telephony_callattempt a WHERE a.lead_id = l.id),
               (SELECT extract(epoch FROM min(e.at)) FROM leads_leadevent e
                 WHERE e.lead_id = l.id AND e.step = 'call' AND e.kind = 'step_started'),
               (SELECT extract(epoch FROM min(e.at)) FROM leads_leadevent e
                 WHERE e.lead_id = l.id AND e.step = 'crm'),
               (SELECT extract(epoch FROM min(e.at)) FROM leads_leadevent e
                 WHERE e.lead_id = l.id AND e.step = 'notify')
        FROM leads_lead l WHERE l.phone = ANY(%s)
    """
    keys = ("status", "crm_state", "call_state", "notify_state", "created", "attempt", "attempts",
            "call_started", "crm_event", "notify_event")
    with psycopg.connect(run.db_url) as conn:
        BENCH_BACKENDS.add(conn.info.backend_pid)  # its work is the bench's, not the stack's
        rows = conn.execute(sql, (phones,)).fetchall()
    return {r[0]: {k: float(v) if isinstance(v, (int, Decimal)) else v for k, v in zip(keys, r[1:])}
            for r in rows}


IDLE_WINDOW = 5.0  # seconds
STACK = ("web", "workers", "beat", "postgres (all)")  # the "web + workers + PostgreSQL", and beat
# This process: the senders and the fakes do the same work in every run of the same options, so the stack's CPU
# as a multiple of this one's leaves out how fast the machine happens to be (it drifts by a fifth within minutes).
BENCH = "bench (this process)"


def watched_core_seconds(used: dict[int, tuple[str, float]], groups: dict[str, list[int]]) -> dict[str, float]:
    """Core-seconds per group over a CpuWatch window, per pid from the watch's samples. PostgreSQL's group
    also takes every backend of the bench's database that the watch saw: one that ended inside the window
    (a connection that reached CONN_MAX_AGE is closed and opened again) keeps what it used. Reading /proc
    only at both ends missed the new backend's work if it ended, and took the old one's whole life off the
    group's sum."""
    backends = our_backends(used)
    split = {}
    for name, pids in groups.items():
        members = set(pids) | (backends if name == "postgres (all)" else set())
        split[name] = sum(used[pid][1] for pid in members if pid in used)
    return split


def our_backends(used: dict[int, tuple[str, float]]) -> set[int]:
    """The stack's PostgreSQL backends on the bench's database ("postgres: 15/main: <user> <database> <host>
    <state>"), less those of the bench's own look-ups."""
    return {pid for pid, (cmd, _) in used.items()
            if cmd.startswith("postgres: ") and DB_NAME in cmd.split(": ")[-1].split()} - BENCH_BACKENDS


def settle(run: Run, phones: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Wait until no step of these leads is pending or running (callbacks routed), or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        rows = lead_rows(run, phones)
        open_ = [p for p in phones if p not in rows or any(
            rows[p][s] in ("pending", "running") for s in ("crm_state", "call_state", "notify_state"))]
        if not open_ or time.monotonic() > deadline:
            return rows
        time.sleep(0.25)


_RECEIVED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO celery\.worker\.strategy "
                       r"Task (\S+)\[([0-9a-f-]+)\] received")
_SUCCEEDED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO celery\.app\.trace "
                        r"Task (\S+)\[([0-9a-f-]+)\] succeeded in ([0-9.e-]+)s: .*lead=([0-9a-f-]+)\]")


def worker_log_tasks(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """task id -> {name, received, finished, runtime, lead} from the workers' INFO lines (epoch seconds).

    `received`: the worker's main process took the message from Redis; `finished - runtime`: a
    pool child started it. Log times have millisecond resolution.
    """
    def ts(text: str) -> float:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local time, as logging wrote it

    tasks: dict[str, dict[str, Any]] = {}
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            if m := _RECEIVED.match(line):
                tasks.setdefault(m[3], {"name": m[2]})["received"] = ts(m[1])
            elif m := _SUCCEEDED.match(line):
                t = tasks.setdefault(m[3], {"name": m[2]})
                t.update(finished=ts(m[1]), runtime=float(m[4]), lead=m[5])
    return tasks


def analyse(run: Run, items: list[Sent], calls: dict[str, list[float]], rows: dict[str, dict[str, Any]],
            cpu: dict[str, Any], mono_to_wall: float) -> dict[str, Any]:
    a = run.args
    post_ok = [x for x in items if x.status == 201]
    post_errors = [x for x in items if x.status != 201]
    post_ms = [(x.answered - x.sent) * 1000 for x in items if x.answered is not None and x.status is not None]
    stl: list[float] = []
    per_lead = []
    stages: dict[str, list[float]] = {k: [] for k in (
        "sent_to_row", "row_to_answer", "row_to_attempt", "attempt_to_vox", "answer_to_vox",
        "row_to_call_received", "call_received_to_start", "call_start_to_vox")}
    tasks = worker_log_tasks([p.log_path for p in run.procs if p.name.startswith(("worker", "call"))])
    call_task = {t["lead"]: t for t in tasks.values()
                 if t["name"] == "telephony.tasks.call_step" and "received" in t and "runtime" in t}
    runtimes: dict[str, list[float]] = {}
    lead_ids = {x.lead_id for x in items}
    for t in tasks.values():
        if t.get("lead") in lead_ids:
            runtimes.setdefault(t["name"].rsplit(".", 1)[-1], []).append(t["runtime"] * 1000)
    for x in items:
        got = calls.get(x.phone)
        latency = (got[0] - x.sent) * 1000 if got else None
        if latency is not None:
            stl.append(latency)
        r = rows.get(x.phone, {})
        sent_wall = x.sent + mono_to_wall
        vox_wall = got[0] + mono_to_wall if got else None
        answered_wall = x.answered + mono_to_wall if x.answered is not None else None
        s = {}
        if r.get("created"):
            s["sent_to_row"] = (r["created"] - sent_wall) * 1000
            if answered_wall:
                s["row_to_answer"] = (answered_wall - r["created"]) * 1000
            if r.get("attempt"):
                s["row_to_attempt"] = (r["attempt"] - r["created"]) * 1000
        if r.get("attempt") and vox_wall:
            s["attempt_to_vox"] = (vox_wall - r["attempt"]) * 1000
        if answered_wall and vox_wall:
            s["answer_to_vox"] = (vox_wall - answered_wall) * 1000
        t = call_task.get(x.lead_id)
        if t and r.get("created"):
            start = t["finished"] - t["runtime"]
            s["row_to_call_received"] = (t["received"] - r["created"]) * 1000
            s["call_received_to_start"] = max(0.0, start - t["received"]) * 1000
            if vox_wall:
                s["call_start_to_vox"] = (vox_wall - start) * 1000
        for k, v in s.items():
            stages[k].append(v)
        per_lead.append({
            "i": x.index, "phone": x.phone, "send_lag_ms": (x.sent - x.scheduled) * 1000,
            "post_status": x.status, "post_ms": (x.answered - x.sent) * 1000 if x.answered else None,
            "error": x.error or None, "speed_to_lead_ms": latency, "start_scenarios": len(got or []),
            "status": r.get("status"), "crm_state": r.get("crm_state"), "call_state": r.get("call_state"),
            "notify_state": r.get("notify_state"), "call_attempts": r.get("attempts"), **{k: round(v, 2) for k, v in s.items()},
        })
    missing = [x.phone for x in items if x.phone not in calls]
    duplicates = [x.phone for x in items if len(calls.get(x.phone, [])) > 1]
    crm = Counter(r.get("crm_state") for r in rows.values())
    deliveries = run.vox.deliveries if run.vox else []
    send_lag = [(x.sent - x.scheduled) * 1000 for x in items]
    duration = (max(x.sent for x in items) - min(x.sent for x in items)) if items else 0
    stl_sum = summary(stl)
    return {
        "leads": len(items), "rate": a.rate, "achieved_rate": (len(items) - 1) / duration if duration else None,
        "send_lag_ms": summary(send_lag),
        "post": {"ok_201": len(post_ok), "errors": len(post_errors),
                 "error_kinds": dict(Counter(x.error[:80] or str(x.status) for x in post_errors)),
                 "latency_ms": summary(post_ms)},
        "speed_to_lead_ms": stl_sum,
        "missing": len(missing), "missing_phones": missing[:20], "dialled_twice": len(duplicates),
        "target": TARGET,
        "target_met": bool(stl_sum["p50"] is not None and not missing and stl_sum["p50"] < TARGET["p50_ms"]
                           and stl_sum["p99"] < TARGET["p99_ms"]),
        "stages_ms": {k: summary(v) for k, v in stages.items()},
        "task_runtime_ms": {k: summary(v) for k, v in sorted(runtimes.items())},
        "lead_status": dict(Counter(r.get("status") for r in rows.values())),
        "crm": {"states": dict(crm), "active": crm.get("done", 0) > 0,
                "bitrix_stand_in": None if run.bitrix is None else {
                    "delay_s": run.bitrix.delay, "requests_received": run.bitrix.count,
                    "methods": dict(run.bitrix.methods)}},
        "notify_states": dict(Counter(r.get("notify_state") for r in rows.values())),
        "callbacks": {"delivered": len(deliveries),
                      "statuses": dict(Counter(f"{d.method} {d.status or d.error}" for d in deliveries))},
        "cpu": cpu,
        "per_lead": per_lead,
    }


def print_report(result: dict[str, Any]) -> None:
    r = result["results"]
    stl, post = r["speed_to_lead_ms"], r["post"]
    m = result["machine"]
    out = []
    out.append("")
    out.append("Speed to lead: POST /api/v1/leads/ -> StartScenarios at the fake VoxImplant")
    out.append(f"command : {result['command']}")
    out.append(f"date    : {result['date']}")
    if line := source_line(result["source"]):
        out.append(line)
    out.append(f"machine : nproc {m['nproc']}, {m.get('cpu_model', '?')}, {m.get('mem_total', '?')}; "
               f"Python {m['python']}; PostgreSQL {m.get('postgresql', '?')}; Redis {m.get('redis', '?')}")
    c = result["config"]
    workers = "; ".join(f"celery worker --concurrency {n}" + (f" -Q {q}" if q else "")
                        for n, q in zip(c["worker_concurrency"], c["queues"] or [""] * len(c["worker_concurrency"])))
    out.append(f"stack   : gunicorn --workers {c['web_workers']}; {workers}; beat {'on' if c['beat'] else 'off'}; "
               f"call result after {c['call_delay'][0]}-{c['call_delay'][1]} s")
    out.append("")
    header = f"{'leads':>5} {'rate/s':>6} | {'POST p50':>8} {'p99':>6} {'err':>4} | " \
             f"{'STL p50':>7} {'p90':>6} {'p99':>6} {'max':>6} | {'missing':>7}"
    out.append(header)
    out.append("-" * len(header))
    out.append(f"{r['leads']:>5} {r['achieved_rate']:>6.1f} | {fmt(post['latency_ms']['p50']):>8} "
               f"{fmt(post['latency_ms']['p99']):>6} {post['errors']:>4} | {fmt(stl['p50']):>7} {fmt(stl['p90']):>6} "
               f"{fmt(stl['p99']):>6} {fmt(stl['max']):>6} | {r['missing']:>7}")
    out.append("(milliseconds; STL = speed to lead)")
    out.append(f"target p50 < {TARGET['p50_ms']:.0f} ms and p99 < {TARGET['p99_ms']:.0f} ms: "
               f"{'MET' if r['target_met'] else 'NOT MET'}")
    out.append("")
    out.append("where the time goes (ms, p50 / p90 / p99; clocks of one machine):")
    labels = {"sent_to_row": "sent -> lead row written (web)", "row_to_answer": "lead row -> POST answered",
              "row_to_attempt": "lead row -> call attempt row (commit, queue, worker)",
              "attempt_to_vox": "call attempt row -> StartScenarios received",
              "answer_to_vox": "POST answered -> StartScenarios received",
              "row_to_call_received": "lead row -> call task received by a worker",
              "call_received_to_start": "call task received -> started in a pool child",
              "call_start_to_vox": "call task started -> StartScenarios received"}
    for key, label in labels.items():
        s = r["stages_ms"][key]
        out.append(f"  {label:<55} {fmt(s['p50']):>6} / {fmt(s['p90']):>6} / {fmt(s['p99']):>6}")
    for name, s in r["task_runtime_ms"].items():
        out.append(f"  {'task runtime ' + name + ' (worker log)':<55} {fmt(s['p50']):>6} / {fmt(s['p90']):>6} / "
                   f"{fmt(s['p99']):>6}")
    crm = r["crm"]
    bitrix = crm["bitrix_stand_in"]
    out.append("")
    out.append(f"CRM step: {'ACTIVE' if crm['active'] else 'NOT active'} (crm_state: "
               + ", ".join(f"{k} {v}" for k, v in sorted(crm["states"].items(), key=str)) + ")"
               + ("" if bitrix is None else f"; slow Bitrix24 stand-in ({bitrix['delay_s']} s/request) received "
                  f"{bitrix['requests_received']} requests {bitrix['methods'] or ''}"))
    out.append(f"lead status: {r['lead_status']}; callbacks delivered: {r['callbacks']['delivered']} "
               f"{r['callbacks']['statuses']}; dialled twice: {r['dialled_twice']}")
    out.append(f"send lag (open loop check): p99 {fmt(r['send_lag_ms']['p99'])} ms, max {fmt(r['send_lag_ms']['max'])} ms")
    cpu = r["cpu"]
    out.append(f"CPU during the run ({cpu['window_s']:.1f} s): machine {cpu['machine_busy_pct']:.0f}% busy of "
               f"{m['nproc']} cores (steal {cpu['steal_pct']:.1f}%), {cpu['core_ms_per_lead']:.0f} core-ms per lead; "
               f"core-seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu["core_seconds"].items()))
    if cpu.get("pg_sessions_opened") is not None:
        out.append(f"PostgreSQL sessions opened on {DB_NAME} during the run: {cpu['pg_sessions_opened']} "
                   f"({cpu['pg_sessions_opened'] / max(1, r['leads']):.1f} per lead)")
    out.append(f"  the stack (web, workers, beat, PostgreSQL) in that window: {cpu['stack_core_ms_per_lead']:.0f} core-ms "
               f"per lead; idle it burns {cpu['idle_core_ms_per_s']:.0f} core-ms/s")
    if "stack_per_bench" in cpu:
        out.append(f"  against this process's own {cpu['bench_core_ms_per_lead']:.2f} core-ms per lead (the same work "
                   f"in every run of this command: a yardstick for the machine's speed of the moment): the stack "
                   f"{cpu['stack_per_bench']:.2f}x")
    if "life" in cpu:
        life = cpu["life"]
        out.append(f"  the stack over the leads' whole life ({life['window_s']:.0f} s, until every result was routed): "
                   f"{life['core_ms_per_lead']:.0f} core-ms per lead, {life['less_idle_core_ms_per_lead']:.0f} "
                   f"less its idle burn"
                   + (f" ({life['less_idle_per_bench']:.2f}x this process's in the window)"
                      if "less_idle_per_bench" in life else ""))
        if "less_idle_by_group" in life:
            out.append("    of which, each less its own idle burn: " + ", ".join(
                f"{name.strip().removeprefix('of which ')} {v:.1f}" for name, v in life["less_idle_by_group"].items()))
    if "pg_statements" in r:
        pg = r["pg_statements"]
        out.append(f"PostgreSQL's execution time over the leads' whole life (pg_stat_statements, lock waits "
                   f"included): {pg['exec_ms_per_lead']:.2f} ms per lead; the longest statements in all:")
        out.extend(f"  {st['exec_ms']:8.1f} ms {st['calls_per_lead']:6.2f}/lead {st['query'][:110]}"
                   for st in pg["top"])
    if cpu["foreign_processes"]:
        out.append("WARNING: other processes used the CPU during the run; the figures are not clean: "
                   + "; ".join(f"{f['core_s']} core-s {f['cmd']}" for f in cpu["foreign_processes"][:5]))
    if post["errors"]:
        out.append(f"POST errors: {post['error_kinds']}")
    if r["missing"]:
        out.append(f"missing (no StartScenarios within the timeout): {r['missing_phones']}")
    t = r["celery_tasks"]
    out.append(f"Celery tasks received by the call and worker processes: {t['total']} ({t['per_lead']} per lead): "
               + ", ".join(f"{k.rsplit('.', 1)[-1]} {v}" for k, v in t["by_name"].items()))
    if "statements" in r:
        st = r["statements"]
        out.append(f"SQL statements per lead over the leads' whole life (BEGIN/COMMIT not counted): {st['per_lead']}; "
                   "the most: " + ", ".join(f"{k} {v}" for k, v in list(st["by_place_per_lead"].items())[:12]))
    if "bitrix24" in r:
        b = r["bitrix24"]
        out.append(f"Bitrix24 fake: {b['leads_in_crm']} of {r['leads']} leads in the CRM; POST -> in CRM (s) p50 "
                   f"{fmt(b['post_to_crm_s']['p50'])}, p99 {fmt(b['post_to_crm_s']['p99'])}, max "
                   f"{fmt(b['post_to_crm_s']['max'])}; QUERY_LIMIT_EXCEEDED {b['query_limit_exceeded']}; requests "
                   f"{dict(b['requests'])}")
    if "telegram" in r:
        g = r["telegram"]
        out.append(f"Telegram fake: {g['leads_announced']} of {r['leads']} leads announced in {g['messages']} "
                   f"messages; POST -> in the chat (s) p50 {fmt(g['post_to_chat_s']['p50'])}, max "
                   f"{fmt(g['post_to_chat_s']['max'])}; 429 answers {g['too_many_requests_429']}")
    if "floor" in r:
        f, fs = r["floor"], r["floor"]["speed_to_lead_ms"]
        out.append(f"floor (bench/floor.py, same run): POST -> StartScenarios p50 {fmt(fs['p50'])} ms, p99 "
                   f"{fmt(fs['p99'])} ms, missing {f['missing']}; product / floor: p50 "
                   f"{(stl['p50'] or 0) / max(fs['p50'] or 1, 1e-9):.2f}x, p99 {(stl['p99'] or 0) / max(fs['p99'] or 1, 1e-9):.2f}x")
        by = ", ".join(f"{v:.1f}" for v in f["core_ms_per_lead_by_group"].values())
        out.append(f"  the floor's CPU (web, its worker, PostgreSQL) while it ran: {f['core_ms_per_lead']:.0f} core-ms per lead ({by})")
    print("\n".join(out), flush=True)


# --- main -----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--leads", type=int, default=200, help="measured leads")
    p.add_argument("--rate", type=float, default=20.0, help="leads per second (open loop)")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn --workers")
    p.add_argument("--worker-concurrency", default="4",
                   help="prefork children per celery worker; a comma list gives one value per worker process")
    p.add_argument("--queues", nargs="+", default=None, metavar="Q[,Q...]",
                   help="one -Q value per worker process, e.g. `--queues call crm,notify,default` "
                        "(default: every process consumes every queue, as the Procfile's worker line)")
    p.add_argument("--worker-processes", type=int, default=1, help="separate `celery worker` processes")
    p.add_argument("--procfile", action="store_true",
                   help="run the Procfile's own lines (web, call, worker, beat); --worker-concurrency is the "
                        "worker's WORKER_CONCURRENCY")
    p.add_argument("--call-concurrency", type=int, default=2, help="CALL_CONCURRENCY with --procfile")
    p.add_argument("--bitrix-fake", type=float, default=None, metavar="SECONDS",
                   help="the strict Bitrix24 fake (leaky bucket 2/s, burst 50) answering after SECONDS")
    p.add_argument("--telegram", action="store_true", help="the Telegram fake with the Bots FAQ limits, one group")
    p.add_argument("--announce-wait", type=float, default=0.0, metavar="SECONDS",
                   help="with --telegram: after the CPU figures, wait up to this long for every lead's announcement")
    p.add_argument("--floor", action="store_true",
                   help="after the product, the same leads at the same rate through bench/floor.py's bare pipeline")
    p.add_argument("--no-beat", dest="beat", action="store_false", help="do not run `celery beat` (the sweeper)")
    p.add_argument("--warmup", type=int, default=None,
                   help="warm-up leads, not measured (default: max(5, 2 x all worker children))")
    p.add_argument("--call-delay", type=lambda s: tuple(float(x) for x in s.split(",")), default=(1.0, 3.0),
                   metavar="MIN,MAX", help="the simulated call ends and posts its result after a random delay")
    p.add_argument("--bitrix-delay", type=float, default=None, metavar="SECONDS",
                   help="start a Bitrix24 stand-in answering after SECONDS and set BITRIX_WEBHOOK_URL to it")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the StartScenarios after the last send")
    p.add_argument("--max-in-flight", type=int, default=64, help="sender threads (open loop while below this)")
    p.add_argument("--log-level", default="WARNING",
                   help="LOG_LEVEL of the web (the celery processes log at INFO: the task counts come from their lines)")
    p.add_argument("--budgets", action="store_true",
                   help="keep the dialling budget checks on, with limits the run does not reach (off by default)")
    p.add_argument("--no-settings-fetch", dest="settings_fetch", action="store_false",
                   help="the simulated scenario does not ask for its settings as the call starts (the real one does; "
                        "figures in docs/benchmarks.md before 2026-12-04 23:00 were taken without it)")
    p.add_argument("--count-statements", action="store_true",
                   help="count the SQL statements per lead by where they come from (bench/statement_census)")
    p.add_argument("--pg-statements", type=int, default=0, metavar="N",
                   help="the N statements that took PostgreSQL longest over the leads' whole life, from "
                        "pg_stat_statements (a server that loads it: BENCH_PG_SERVER, bench/README.md)")
    p.add_argument("--json", type=Path, default=None, help="write the result here")
    p.add_argument("--keep-db", action="store_true", help=f"keep the database {DB_NAME} at the end")
    p.add_argument("--keep-logs", type=Path, default=None, metavar="DIR", help="copy the process logs here")
    args = p.parse_args(argv)
    if len(args.call_delay) != 2 or not 0 <= args.call_delay[0] <= args.call_delay[1]:
        p.error("--call-delay takes MIN,MAX seconds")
    if args.queues and len(args.queues) != args.worker_processes:
        if args.worker_processes != 1:
            p.error("give one --queues value per worker process")
        args.worker_processes = len(args.queues)
    concurrency = [int(x) for x in args.worker_concurrency.split(",")]
    if len(concurrency) == 1:
        concurrency *= args.worker_processes
    if len(concurrency) != args.worker_processes:
        p.error("--worker-concurrency takes one value or one per worker process")
    args.worker_concurrency = concurrency
    if args.warmup is None:
        args.warmup = max(5, 2 * sum(args.worker_concurrency))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.pg_statements:
        pg_statements_reset()  # now, not after a minute of setting up: the server may have none
    facts = run_facts("speed_to_lead.py", argv)
    lock = lock_database_name(DB_NAME)  # released when this process ends, however it ends
    tmp = Path(tempfile.mkdtemp(prefix="lc-bench-"))
    run = Run(args=args, tmp=tmp)
    # SIGTERM is handled like Ctrl-C, so the finally clause below always cleans up.
    signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        run.start()
        vox = run.vox
        base = random.randrange(0, 9_000_000 - args.leads - args.warmup)
        warm = [Sent(i, phone_for(base + i), 0.0) for i in range(args.warmup)]
        items = [Sent(i, phone_for(base + args.warmup + i), 0.0) for i in range(args.leads)]

        log(f"warm-up: {len(warm)} leads at {args.rate}/s")
        send_open_loop(run, warm, args.rate)
        bad = [x for x in warm if x.status != 201]
        if bad:
            raise RuntimeError(f"warm-up posts failed: {[(x.status, x.error) for x in bad][:5]}\n"
                               f"{run.procs[0].tail()}")
        found = wait_for_calls(run, [x.phone for x in warm], timeout=60)
        if not all(x.phone in found for x in warm):
            tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in run.procs)
            raise RuntimeError(f"warm-up leads were not dialled within 60 s\n{tails}")
        # Let the warm-up calls report, so the measured run starts from a quiet stack.
        deadline = time.monotonic() + args.call_delay[1] + 10
        while sum(d.method == "POST" for d in vox.deliveries) < len(warm) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)

        # What the stack burns doing nothing (pollers, heartbeats), so a lead's share can be told from it.
        idle_groups, idle_watch, t_idle = cpu_groups_split(run), CpuWatch(), time.monotonic()
        time.sleep(IDLE_WINDOW)
        idle_split = watched_core_seconds(idle_watch.stop(), idle_groups)
        idle_s = time.monotonic() - t_idle
        idle_rates = {name: core_s / idle_s for name, core_s in idle_split.items()}  # core-seconds a second
        idle_rate = sum(idle_rates[name] for name in STACK)

        statements0 = statement_census(tmp) if args.count_statements else Counter()
        if args.pg_statements:
            pg_statements_reset()
        log(f"measuring: {len(items)} leads at {args.rate}/s, open loop")
        mono_to_wall = time.time() - time.monotonic()
        busy0, total0, steal0 = cpu_times()
        groups = cpu_groups_split(run)
        watch = CpuWatch()
        sessions0 = pg_sessions(DB_NAME)
        w0 = time.monotonic()
        seen = FirstSeen(run)
        qle0 = sum(r.status == 503 for r in run.b24.requests) if run.b24 else 0
        tg0 = run.tg.too_many_requests if run.tg else 0
        send_open_loop(run, items, args.rate)
        log("all sent; waiting for StartScenarios")
        calls = wait_for_calls(run, [x.phone for x in items], timeout=args.timeout)
        w1 = time.monotonic()
        busy1, total1, steal1 = cpu_times()
        used = watch.used()  # the watch goes on for the leads' whole life
        ours = ({pid for pids in groups.values() for pid in pids} | {p for proc in run.procs for p in proc.tree()}
                | our_backends(used))
        time.sleep(1.0)  # PostgreSQL flushes its session counters about once a second
        sessions1 = pg_sessions(DB_NAME)
        # Someone else's work on this machine during the window makes the figures worthless: say so.
        foreign = sorted(((cpu_s, cmd) for pid, (cmd, cpu_s) in used.items() if pid not in ours), reverse=True)
        foreign = [{"core_s": round(c, 2), "cmd": cmd} for c, cmd in foreign if c >= 0.3]
        core_seconds = {k: round(v, 2) for k, v in watched_core_seconds(used, groups).items()}
        machine_core_s = (busy1 - busy0) / os.sysconf("SC_CLK_TCK")
        core_seconds["other processes"] = round(sum(f["core_s"] for f in foreign), 2)
        # Processes that lived less than a sample, the kernel, small fry.
        core_seconds["unattributed"] = round(
            machine_core_s - sum(v for k, v in core_seconds.items() if not k.startswith("  ")), 2)
        stack_ms = 1000 * sum(core_seconds[k] for k in STACK) / max(1, args.leads)
        bench_ms = 1000 * core_seconds[BENCH] / max(1, args.leads)
        cpu = {"window_s": w1 - w0, "machine_busy_pct": 100.0 * (busy1 - busy0) / max(1, total1 - total0),
               "stack_core_ms_per_lead": round(stack_ms, 1), "idle_core_ms_per_s": round(1000 * idle_rate, 1),
               "bench_core_ms_per_lead": round(bench_ms, 2),
               "stack_per_bench": round(stack_ms / max(bench_ms, 1e-9), 2),
               "steal_pct": 100.0 * (steal1 - steal0) / max(1, total1 - total0),
               "core_ms_per_lead": round(1000 * machine_core_s / max(1, args.leads), 1),
               "core_seconds": core_seconds, "foreign_processes": foreign,
               "pg_sessions_opened": None if sessions0 is None or sessions1 is None else sessions1 - sessions0}
        log("waiting for the call results to be routed")
        rows = settle(run, [x.phone for x in items], timeout=args.call_delay[1] + 30)
        calls = start_scenarios_by_phone(run)  # a late one still counts as a duplicate
        time.sleep(2.0)  # the last card edits and write-backs
        # The whole life of the burst's leads: calls, results, CRM, cards; less what the stack burns idle.
        life_split = watched_core_seconds(watch.stop(), groups)
        life_s = time.monotonic() - w0
        life_core_s = sum(life_split[name] for name in STACK)
        less_idle_core_s = life_core_s - idle_rate * life_s
        cpu["life"] = {"window_s": round(life_s, 1), "core_ms_per_lead": round(1000 * life_core_s / args.leads, 1),
                       "less_idle_core_ms_per_lead": round(1000 * less_idle_core_s / args.leads, 1),
                       # Against the window's yardstick: over the life this process mostly polls, as long as the
                       # life lasts, which is no yardstick.
                       "less_idle_per_bench": round(1000 * less_idle_core_s / args.leads / max(bench_ms, 1e-9), 2),
                       # Per group, each less its own idle burn: where a lead's CPU goes over its whole life.
                       "less_idle_by_group": {
                           name: round(1000 * (life_split[name] - idle_rates[name] * life_s) / args.leads, 1)
                           for name in (*STACK, *(k for k in groups if k.startswith("  of which")))}}
        if run.tg is not None and args.announce_wait:  # after the CPU figures: the rest of the digests
            log(f"waiting up to {args.announce_wait:g} s for every lead to be announced in Telegram")
            burst = {x.index for x in items}
            deadline = time.monotonic() + args.announce_wait
            while len(burst & seen.chat.keys()) < len(burst) and time.monotonic() < deadline:
                time.sleep(0.5)
        seen.stop()
        tasks = log_task_counts(run, w0 + mono_to_wall - 0.5)
        extra: dict[str, Any] = {
            "celery_tasks": {"total": sum(tasks.values()), "per_lead": round(sum(tasks.values()) / args.leads, 2),
                             "by_name": dict(tasks.most_common())}}
        if args.count_statements:  # over the leads' whole life, as the CPU above
            statements = statement_census(tmp) - statements0
            extra["statements"] = {"per_lead": round(sum(statements.values()) / args.leads, 1),
                                   "by_place_per_lead": {k: round(v / args.leads, 2) for k, v in statements.most_common()}}
        if args.pg_statements:  # over the leads' whole life too
            top = pg_statements(DB_NAME, args.pg_statements)
            extra["pg_statements"] = {
                "exec_ms_per_lead": round(sum(st["exec_ms"] for st in top) / args.leads, 2),
                "top": [{**st, "calls_per_lead": round(st["calls"] / args.leads, 2)} for st in top]}
        by_index = {x.index: x for x in items}
        if run.b24 is not None:
            in_crm = [(t - by_index[i].sent) for i, t in seen.crm.items() if i in by_index]
            extra["bitrix24"] = {
                "query_limit_exceeded": sum(r.status == 503 for r in run.b24.requests) - qle0,
                "requests": Counter(r.method for r in run.b24.requests), "leads_in_crm": len(in_crm),
                "post_to_crm_s": summary(in_crm)}
        if run.tg is not None:
            announced = [(t - by_index[i].sent) for i, t in seen.chat.items() if i in by_index]
            extra["telegram"] = {"too_many_requests_429": run.tg.too_many_requests - tg0,
                                 "leads_announced": len(announced), "post_to_chat_s": summary(announced),
                                 "messages": len(run.tg.messages(run.tg_chat))}
        if args.floor:
            log(f"floor: {len(items)} leads at {args.rate}/s through bench/floor.py")
            floor_items = [Sent(i, phone_for(base + args.warmup + args.leads + i), 0.0) for i in range(args.leads)]
            extra["floor"] = floor_run(run, floor_items, args.rate, timeout=args.timeout)

        result = {
            "benchmark": "speed_to_lead", **facts,
            "config": {"leads": args.leads, "rate": args.rate, "web_workers": args.web_workers,
                       "worker_processes": args.worker_processes, "worker_concurrency": args.worker_concurrency,
                       "queues": args.queues,
                       "beat": args.beat, "warmup": args.warmup, "call_delay": list(args.call_delay),
                       "bitrix_delay": args.bitrix_delay, "log_level": args.log_level,
                       "processes": {p.name: shlex.join(p.cmd) for p in run.procs}},
            "results": {**analyse(run, items, calls, rows, cpu, mono_to_wall), **extra},
        }
        print_report(result)
        if args.json:
            write_json(args.json, result)
        return 0 if result["results"]["missing"] == 0 else 1
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        run.stop()
        if args.keep_logs:
            copy_logs(run.procs, args.keep_logs)
        shutil.rmtree(tmp, ignore_errors=True)
        lock.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    sys.exit(main())
