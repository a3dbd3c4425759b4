#!/usr/bin/env python
"""Speed to lead: from `POST /api/v1/leads/` to the `StartScenarios` request at VoxImplant.

The production processes on PostgreSQL and Redis: gunicorn (the Procfile's `web` line), real
`celery worker` processes (the `worker` line) and `celery beat`; VoxImplant is the local fake
from tests/fakes/voximplant.py, running in this process, whose scenario simulator posts each
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
import importlib.metadata
import json
import os
import platform
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402

from tests.fakes.voximplant import FakeVoximplant, always  # noqa: E402

DB_NAME = "leadcaller_bench"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
BROKER_URL = "redis://127.0.0.1:6379/0"
SITE_DOMAIN = "bench.example"
TARGET = {"p50_ms": 300.0, "p99_ms": 1000.0}  # issue 4
BIN = Path(sys.executable).parent


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- small helpers ----------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), **{f"p{q}": percentile(values, q) for q in (50, 90, 99)},
            "min": min(values) if values else None, "max": max(values) if values else None,
            "mean": sum(values) / len(values) if values else None}


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def phone_for(n: int) -> str:
    """A valid Russian mobile number, unique per n (+7 912 xxx xx xx)."""
    return f"+7912{n:07d}"


def cpu_times() -> tuple[float, float, float]:
    """(busy, total, steal) jiffies of the whole machine from /proc/stat (guest time is inside user)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    steal = fields[7] if len(fields) > 7 else 0
    return sum(fields) - idle, sum(fields), steal


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (through /proc/<pid>/task/*/children)."""
    result, todo = [], [pid]
    while todo:
        p = todo.pop()
        result.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    return result


def proc_cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        rest = stat.rsplit(")", 1)[1].split()
        total += int(rest[11]) + int(rest[12])  # utime, stime
    return total / tick


def all_process_cpu() -> dict[int, tuple[str, float]]:
    """pid -> (command line, CPU seconds) of every process visible in /proc."""
    tick, result = os.sysconf("SC_CLK_TCK"), {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                rest = (d / "stat").read_text().rsplit(")", 1)[1].split()
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:100]
                result[int(d.name)] = (cmd, (int(rest[11]) + int(rest[12])) / tick)
            except (OSError, IndexError):
                pass
    return result


class CpuWatch:
    """Samples every process's CPU time twice a second, so processes that start and end inside the
    window are seen too (those shorter than a sample interval are not)."""

    def __init__(self, interval: float = 0.5):
        self.first = all_process_cpu()
        self.last = dict(self.first)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval,), daemon=True)
        self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.last.update(all_process_cpu())

    def stop(self) -> dict[int, tuple[str, float]]:
        """pid -> (command line, CPU seconds used inside the window)."""
        self._stop.set()
        self._thread.join()
        self.last.update(all_process_cpu())
        return {pid: (cmd, cpu - self.first.get(pid, ("", 0.0))[1]) for pid, (cmd, cpu) in self.last.items()}


def pg_sessions() -> int | None:
    """Sessions ever opened on the bench database (pg_stat_database.sessions, PostgreSQL 14+)."""
    try:
        with psycopg.connect(PG_ADMIN_URL) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (DB_NAME,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None
    except psycopg.Error:
        return None


def pids_named(name: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == name:
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


# --- the slow Bitrix24 stand-in ---------------------------------------------------------------
class SlowBitrix:
    """Answers every request after `delay` seconds with a Bitrix24-shaped JSON body; counts them.

    Inbound-webhook URLs (`<base>/<method>.json`): crm.lead.add gets a new id, batch gets an id per
    command, *.list an empty page, anything else `true`. Enough for a client to finish its step.
    """

    def __init__(self, delay: float):
        self.delay, self.count, self._lock = delay, 0, threading.Lock()
        self.methods: Counter[str] = Counter()
        self._ids = iter(range(100_001, 10**9))
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _answer(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer._lock:
                    outer.count += 1
                    outer.methods[self.path.rsplit("/", 1)[-1].split("?")[0].removesuffix(".json")] += 1
                start = time.time()
                time.sleep(outer.delay)
                body = json.dumps({"result": outer.result_for(self.path, raw),
                                   "time": {"start": start, "finish": time.time(), "duration": outer.delay}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rest/1/benchwebhook/"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def result_for(self, path: str, raw: bytes) -> Any:
        method = path.rsplit("/", 1)[-1].split("?")[0].removesuffix(".json")
        with self._lock:
            if method == "batch":
                try:
                    cmd = json.loads(raw or b"{}").get("cmd") or {}
                except (ValueError, AttributeError):
                    cmd = {}
                ids = {key: next(self._ids) for key in cmd}
                return {"result": ids, "result_error": [], "result_total": [], "result_next": [], "result_time": {}}
            if method.endswith(".add"):
                return next(self._ids)
        return [] if method.endswith(".list") else True

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- processes we start -----------------------------------------------------------------------
class Proc:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path):
        self.name, self.cmd, self.log_path = name, cmd, log_path
        self._log = open(log_path, "wb")
        # Own session: a Ctrl-C in the terminal reaches only this script, which stops them in order.
        self.popen = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        self.pid = self.popen.pid

    def tree(self) -> list[int]:
        return process_tree(self.pid) if self.popen.poll() is None else []

    def stop(self, timeout: float = 20.0) -> None:
        if self.popen.poll() is None:
            children = [p for p in process_tree(self.pid) if p != self.pid]
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) did not stop in {timeout:.0f} s; SIGKILL")
                self.popen.kill()
                self.popen.wait()
            for child in children:  # only the children this process had; normally gone with it
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


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


@dataclass
class Run:
    args: argparse.Namespace
    tmp: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(4))
    procs: list[Proc] = field(default_factory=list)
    vox: FakeVoximplant | None = None
    bitrix: SlowBitrix | None = None
    db_created: bool = False
    web_port: int = 0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"lc-bench-{self.tag}:"


def call_delay_policy(lo: float, hi: float):
    rng, lock = random.Random(), threading.Lock()

    def policy(data):
        with lock:
            delay = rng.uniform(lo, hi)
        return always("human", delay=delay)(data)
    return policy


def post_lead(port: int, item: Sent, origin: str) -> Sent:
    body = json.dumps({"phone": item.phone, "name": f"Bench {item.index}", "comment": "speed-to-lead benchmark"})
    headers = {"Content-Type": "application/json", "Origin": origin, "User-Agent": "leadcaller-bench/1"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        item.sent = time.monotonic()
        conn.request("POST", "/api/v1/leads/", body=body, headers=headers)
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


def send_open_loop(run: Run, items: list[Sent], rate: float) -> None:
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
            futures.append(pool.submit(post_lead, run.web_port, item, origin))
        concurrent.futures.wait(futures)


def start_scenarios_by_phone(vox: FakeVoximplant, run: Run) -> dict[str, list[float]]:
    """phone -> receive times of StartScenarios requests that carried it."""
    found: dict[str, list[float]] = {}
    missing_phone: list[tuple[int, float]] = []
    for req in vox.requests:
        if req.cmd != "StartScenarios":
            continue
        try:
            data = json.loads(req.params.get("script_custom_data") or "{}")
        except ValueError:
            data = {}
        phone = data.get("phone")
        if phone:
            found.setdefault(phone, []).append(req.received)
        elif data.get("attempt_id"):
            missing_phone.append((int(data["attempt_id"]), req.received))
    if missing_phone:  # custom data too long for the phone: look the attempt up
        with psycopg.connect(run_db_url()) as conn:
            for attempt_id, received in missing_phone:
                row = conn.execute("SELECT phone FROM telephony_callattempt WHERE id = %s", (attempt_id,)).fetchone()
                if row:
                    found.setdefault(row[0], []).append(received)
    return found


def run_db_url() -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"


def wait_for_calls(vox: FakeVoximplant, run: Run, phones: list[str], timeout: float) -> dict[str, list[float]]:
    deadline = time.monotonic() + timeout
    while True:
        found = start_scenarios_by_phone(vox, run)
        if all(p in found for p in phones) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


# --- set-up and tear-down -------------------------------------------------------------------------
def lock_database_name() -> psycopg.Connection:
    """Hold a PostgreSQL advisory lock for the whole run: two runs would drop each other's database."""
    conn = psycopg.connect(PG_ADMIN_URL, autocommit=True)
    if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (DB_NAME,)).fetchone()[0]:
        conn.close()
        raise SystemExit(f"another speed_to_lead run holds {DB_NAME}; wait for it to finish")
    return conn


def drop_database() -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def create_database() -> None:
    drop_database()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def manage(run: Run, *argv: str) -> None:
    cmd = [sys.executable, "manage.py", *argv]
    result = subprocess.run(cmd, cwd=ROOT, env=run.env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")


def exe(name: str) -> list[str]:
    path = BIN / name
    return [str(path)] if path.exists() else [sys.executable, "-m", name]


def start_stack(run: Run) -> None:
    a = run.args
    run.web_port = free_port()
    run.vox = FakeVoximplant(simulate=call_delay_policy(*a.call_delay)).start()
    credentials = run.vox.write_credentials(run.tmp / "voximplant.json")
    if a.bitrix_delay is not None:
        run.bitrix = SlowBitrix(a.bitrix_delay)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITRIX_", "VOXIMPLANT_", "TELEGRAM_"))}
    env.update({
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": BROKER_URL,
        "REDIS_KEY_PREFIX": run.prefix,
        "LEADCALLER_VAR_DIR": str(run.tmp / "var"),
        "VOXIMPLANT_API_URL": run.vox.url,
        "VOXIMPLANT_CREDENTIALS": str(credentials),
        "VOXIMPLANT_RULE_ID": "1",
        "VOXIMPLANT_CALLER_ID": "74950000000",
        "VOXIMPLANT_CALLBACK_SECRET": secrets.token_urlsafe(24),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{run.web_port}",
        "CALLING_HOURS": "mon-sun 00:00-24:00",
        "THROTTLE_PER_IP": "off",
        "THROTTLE_PER_PHONE": "off",
        "CALL_MAX_PER_NUMBER": "0",
        "LOG_LEVEL": a.log_level,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SETTINGS_MODULE": "leadcaller.settings",
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    if run.bitrix is not None:
        env["BITRIX_WEBHOOK_URL"] = run.bitrix.url
    run.env = env

    log(f"creating database {DB_NAME} and migrating")
    create_database()
    run.db_created = True
    manage(run, "migrate", "--noinput")
    manage(run, "shell", "-c",
           f"from leads.models import Site; Site.objects.create(domain={SITE_DOMAIN!r}, name='Bench shop')")

    web_cmd = [*exe("gunicorn"), "leadcaller.wsgi", "--bind", f"127.0.0.1:{run.web_port}",
               "--workers", str(a.web_workers), "--access-logfile", "-", "--forwarded-allow-ips", "127.0.0.1"]
    run.procs.append(Proc("web", web_cmd, env, run.tmp / "web.log"))
    for i in range(a.worker_processes):
        cmd = [*exe("celery"), "-A", "leadcaller", "worker", "--loglevel", "INFO",
               "--concurrency", str(a.worker_concurrency[i]), "--hostname", f"bench{i + 1}-{run.tag}@%h"]
        if a.queues:
            cmd += ["-Q", a.queues[i]]
        run.procs.append(Proc(f"worker{i + 1}", cmd, env, run.tmp / f"worker{i + 1}.log"))
    if a.beat:
        cmd = [*exe("celery"), "-A", "leadcaller", "beat", "--loglevel", "INFO"]
        run.procs.append(Proc("beat", cmd, env, run.tmp / "beat.log"))
    for p in run.procs:
        log(f"started {p.name} pid {p.pid}: {shlex.join(p.cmd)}")

    deadline = time.monotonic() + 60
    while True:
        for p in run.procs:
            if p.popen.poll() is not None:
                raise RuntimeError(f"{p.name} exited with {p.popen.returncode}:\n{p.tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", run.web_port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the web server did not answer /healthz with 200 within 60 s")
        time.sleep(0.2)
    log(f"web answers /healthz on port {run.web_port}")


def stop_stack(run: Run) -> None:
    for p in reversed(run.procs):
        try:
            p.stop()
            log(f"stopped {p.name} (pid {p.pid}, exit {p.popen.returncode})")
        except Exception as exc:  # noqa: BLE001  keep cleaning up
            log(f"could not stop {p.name}: {exc}")
    if run.vox is not None:
        run.vox.stop()
    if run.bitrix is not None:
        run.bitrix.stop()
    try:
        client = redis.Redis.from_url(BROKER_URL)
        keys = list(client.scan_iter(match=f"{run.prefix}*", count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
        log(f"deleted {len(keys)} Redis keys under {run.prefix}")
    except Exception as exc:  # noqa: BLE001
        log(f"could not delete Redis keys under {run.prefix}: {exc}")
    if run.db_created and not run.args.keep_db:
        try:
            drop_database()
            log(f"dropped database {DB_NAME}")
        except Exception as exc:  # noqa: BLE001
            log(f"could not drop database {DB_NAME}: {exc}")
    elif run.db_created:
        log(f"kept database {DB_NAME} (--keep-db)")


# --- analysis ---------------------------------------------------------------------------------------
def lead_rows(phones: list[str]) -> dict[str, dict[str, Any]]:
    """Per phone: lead state and the timestamps the pipeline wrote (epoch seconds)."""
    sql = """
        SELECT l.phone, l.status, l.crm_state, l.call_state, l.notify_state,
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
    with psycopg.connect(run_db_url()) as conn:
        rows = conn.execute(sql, (phones,)).fetchall()
    return {r[0]: {k: float(v) if isinstance(v, (int, Decimal)) else v for k, v in zip(keys, r[1:])}
            for r in rows}


def settle(phones: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Wait until no step of these leads is pending or running (callbacks routed), or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        rows = lead_rows(phones)
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


def source_facts() -> dict[str, Any]:
    """Which code ran: the commit of ROOT and whether its tracked files differ from it."""
    def git(*argv: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *argv], capture_output=True, text=True, check=True).stdout.strip()
    try:
        changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
        return {"root": str(ROOT), "commit": git("rev-parse", "HEAD"), "subject": git("log", "-1", "--format=%s"),
                "modified_tracked_files": changed}
    except (OSError, subprocess.CalledProcessError):
        return {"root": str(ROOT), "commit": None}


def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["mem_total"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts["packages"] = {}
    for name in ("Django", "djangorestframework", "celery", "kombu", "redis", "gunicorn", "psycopg", "requests"):
        try:
            facts["packages"][name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    try:
        with psycopg.connect(PG_ADMIN_URL) as conn:
            facts["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        facts["redis"] = redis.Redis.from_url(BROKER_URL).info("server").get("redis_version")
    except Exception:  # noqa: BLE001
        pass
    return facts


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
    tasks = worker_log_tasks([p.log_path for p in run.procs if p.name.startswith("worker")])
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
                      "statuses": dict(Counter(str(d.status or d.error) for d in deliveries))},
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
    src = result["source"]
    if src.get("commit"):
        dirty = src["modified_tracked_files"]
        out.append(f"source  : {src['root']} at {src['commit'][:10]} ({src['subject'][:60]})"
                   + (f"; {len(dirty)} tracked files MODIFIED: {', '.join(dirty[:6])}" if dirty else "; clean"))
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
    if cpu["foreign_processes"]:
        out.append("WARNING: other processes used the CPU during the run; the figures are not clean: "
                   + "; ".join(f"{f['core_s']} core-s {f['cmd']}" for f in cpu["foreign_processes"][:5]))
    if post["errors"]:
        out.append(f"POST errors: {post['error_kinds']}")
    if r["missing"]:
        out.append(f"missing (no StartScenarios within the timeout): {r['missing_phones']}")
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
    p.add_argument("--no-beat", dest="beat", action="store_false", help="do not run `celery beat` (the sweeper)")
    p.add_argument("--warmup", type=int, default=None,
                   help="warm-up leads, not measured (default: max(5, 2 x all worker children))")
    p.add_argument("--call-delay", type=lambda s: tuple(float(x) for x in s.split(",")), default=(1.0, 3.0),
                   metavar="MIN,MAX", help="the simulated call ends and posts its result after a random delay")
    p.add_argument("--bitrix-delay", type=float, default=None, metavar="SECONDS",
                   help="start a Bitrix24 stand-in answering after SECONDS and set BITRIX_WEBHOOK_URL to it")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the StartScenarios after the last send")
    p.add_argument("--max-in-flight", type=int, default=64, help="sender threads (open loop while below this)")
    p.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of web and workers")
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


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(ROOT)) else sys.executable
    command = shlex.join([python, *sys.argv] if argv is None else [python, "bench/speed_to_lead.py", *argv])
    date = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    machine = machine_facts()
    source = source_facts()
    lock = lock_database_name()  # released when this process ends, however it ends
    tmp = Path(tempfile.mkdtemp(prefix="lc-bench-"))
    run = Run(args=args, tmp=tmp)
    # SIGTERM is handled like Ctrl-C, so the finally clause below always cleans up.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        start_stack(run)
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
        found = wait_for_calls(vox, run, [x.phone for x in warm], timeout=60)
        if not all(x.phone in found for x in warm):
            tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in run.procs)
            raise RuntimeError(f"warm-up leads were not dialled within 60 s\n{tails}")
        # Let the warm-up calls report, so the measured run starts from a quiet stack.
        deadline = time.monotonic() + args.call_delay[1] + 10
        while len(vox.deliveries) < len(warm) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)

        log(f"measuring: {len(items)} leads at {args.rate}/s, open loop")
        mono_to_wall = time.time() - time.monotonic()
        busy0, total0, steal0 = cpu_times()
        trees = {p.name: p.tree() for p in run.procs}
        groups = {"web": [pid for n, t in trees.items() if n == "web" for pid in t],
                  "workers": [pid for n, t in trees.items() if n.startswith("worker") for pid in t],
                  "beat": trees.get("beat", []), "bench (this process)": [os.getpid()],
                  "postgres (all)": pids_named("postgres"), "redis-server (all)": pids_named("redis-server")}
        cpu0 = {k: proc_cpu_seconds(v) for k, v in groups.items()}
        watch = CpuWatch()
        sessions0 = pg_sessions()
        w0 = time.monotonic()
        send_open_loop(run, items, args.rate)
        log("all sent; waiting for StartScenarios")
        calls = wait_for_calls(vox, run, [x.phone for x in items], timeout=args.timeout)
        w1 = time.monotonic()
        busy1, total1, steal1 = cpu_times()
        groups["postgres (all)"] = sorted(set(groups["postgres (all)"]) | set(pids_named("postgres")))
        cpu1 = {k: proc_cpu_seconds(v) for k, v in groups.items()}
        ours = {pid for pids in groups.values() for pid in pids} | {p for proc in run.procs for p in proc.tree()}
        used = watch.stop()
        time.sleep(1.0)  # PostgreSQL flushes its session counters about once a second
        sessions1 = pg_sessions()
        # Someone else's work on this machine during the window makes the figures worthless: say so.
        foreign = sorted(((cpu_s, cmd) for pid, (cmd, cpu_s) in used.items() if pid not in ours), reverse=True)
        foreign = [{"core_s": round(c, 2), "cmd": cmd} for c, cmd in foreign if c >= 0.3]
        core_seconds = {k: round(cpu1[k] - cpu0[k], 2) for k in groups}
        machine_core_s = (busy1 - busy0) / os.sysconf("SC_CLK_TCK")
        core_seconds["other processes"] = round(sum(f["core_s"] for f in foreign), 2)
        # Exited processes (short-lived PostgreSQL backends: one per worker connection), the kernel, small fry.
        core_seconds["unattributed"] = round(machine_core_s - sum(core_seconds.values()), 2)
        cpu = {"window_s": w1 - w0, "machine_busy_pct": 100.0 * (busy1 - busy0) / max(1, total1 - total0),
               "steal_pct": 100.0 * (steal1 - steal0) / max(1, total1 - total0),
               "core_ms_per_lead": round(1000 * machine_core_s / max(1, args.leads), 1),
               "core_seconds": core_seconds, "foreign_processes": foreign,
               "pg_sessions_opened": None if sessions0 is None or sessions1 is None else sessions1 - sessions0}
        log("waiting for the call results to be routed")
        rows = settle([x.phone for x in items], timeout=args.call_delay[1] + 30)
        calls = start_scenarios_by_phone(vox, run)  # a late one still counts as a duplicate

        result = {
            "benchmark": "speed_to_lead", "command": command, "date": date, "machine": machine, "source": source,
            "config": {"leads": args.leads, "rate": args.rate, "web_workers": args.web_workers,
                       "worker_processes": args.worker_processes, "worker_concurrency": args.worker_concurrency,
                       "queues": args.queues,
                       "beat": args.beat, "warmup": args.warmup, "call_delay": list(args.call_delay),
                       "bitrix_delay": args.bitrix_delay, "log_level": args.log_level,
                       "processes": {p.name: shlex.join(p.cmd) for p in run.procs}},
            "results": analyse(run, items, calls, rows, cpu, mono_to_wall),
        }
        print_report(result)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1, default=str))
            log(f"wrote {args.json}")
        return 0 if result["results"]["missing"] == 0 else 1
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        stop_stack(run)
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for p in run.procs:
                shutil.copy(p.log_path, args.keep_logs / p.log_path.name)
            log(f"process logs copied to {args.keep_logs}")
        shutil.rmtree(tmp, ignore_errors=True)
        lock.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    sys.exit(main())
