"""What the benchmarks share: the production processes on a fresh database, and the machine's facts.

`Stack` starts the Procfile's lines (gunicorn, `celery worker`, `celery beat`) on a PostgreSQL
database of its own (dropped first) and a random Redis key prefix, with VoxImplant faked in this
process (demo/fakes/voximplant.py) and, on request, a slow Bitrix24 stand-in; `stop()` ends the
processes by pid and removes the database and the keys. Also: percentiles, CPU accounting from
/proc, the commit and machine facts every report prints. See bench/README.md.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import json
import os
import platform
import random
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
import redis  # noqa: E402

from demo.fakes.voximplant import FakeVoximplant, always  # noqa: E402

# Another server (host:port), e.g. one started with pg_stat_statements for `speed_to_lead.py --pg-statements`.
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "127.0.0.1:5432")
PG_ADMIN_URL = f"postgresql://postgres@{PG_SERVER}/postgres"
BROKER_URL = "redis://127.0.0.1:6379/0"
SITE_DOMAIN = "bench.example"
BIN = Path(sys.executable).parent
# PostgreSQL's own background processes, shared by every database (parallel and autovacuum
# workers are not here: they work for one database, whose user they count for).
_PG_SERVER_PROCESSES = ("checkpointer", "background writer", "walwriter", "autovacuum launcher",
                        "logical replication launcher")


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


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) the process has used; OSError when it is gone."""
    rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def all_process_cpu() -> dict[int, tuple[str, float]]:
    """pid -> (command line, CPU seconds) of every process visible in /proc."""
    result = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cpu = process_cpu(int(d.name))
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:100]
                result[int(d.name)] = (cmd, cpu)
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

    def used(self) -> dict[int, tuple[str, float]]:
        """pid -> (command line, CPU seconds used since the watch began), as of now; a process that has
        ended keeps what its last sample saw."""
        self.last.update(all_process_cpu())
        last = dict(self.last)  # a copy: the sampling thread may add to it meanwhile
        return {pid: (cmd, cpu - self.first.get(pid, ("", 0.0))[1]) for pid, (cmd, cpu) in last.items()}

    def stop(self) -> dict[int, tuple[str, float]]:
        """pid -> (command line, CPU seconds used inside the window)."""
        self._stop.set()
        self._thread.join()
        return self.used()


def pg_sessions(db_name: str) -> int | None:
    """Sessions ever opened on a database (pg_stat_database.sessions, PostgreSQL 14+)."""
    try:
        with psycopg.connect(PG_ADMIN_URL) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (db_name,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None
    except psycopg.Error:
        return None


def pg_statements_reset() -> None:
    """Empty the server's pg_stat_statements; SystemExit with what to do when the server does not load it
    (before anything is created there: the shared server is not ours to change)."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        if "pg_stat_statements" not in conn.execute("SHOW shared_preload_libraries").fetchone()[0]:
            raise SystemExit(f"the PostgreSQL server at {PG_SERVER} does not load pg_stat_statements: start one "
                             "with shared_preload_libraries=pg_stat_statements and point BENCH_PG_SERVER at it "
                             "(bench/README.md)")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")


def pg_statements(db_name: str, limit: int) -> list[dict[str, Any]]:
    """The statements run on `db_name` since the reset, the longest in all first, the rest summed in one
    row; not the bench's own (marked `/* bench */`)."""
    with psycopg.connect(PG_ADMIN_URL) as conn:
        rows = conn.execute(
            "SELECT calls, total_exec_time, rows, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = %s) AND query NOT LIKE %s"
            " ORDER BY total_exec_time DESC", (db_name, "%/* bench */%")).fetchall()
    top = [{"calls": calls, "exec_ms": round(ms, 1), "rows": n, "query": query} for calls, ms, n, query in rows[:limit]]
    rest = rows[limit:]
    if rest:
        top.append({"calls": sum(r[0] for r in rest), "exec_ms": round(sum(r[1] for r in rest), 1),
                    "rows": sum(r[2] for r in rest), "query": f"({len(rest)} other statements)"})
    return top


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

def call_delay_policy(lo: float, hi: float):
    rng, lock = random.Random(), threading.Lock()

    def policy(data):
        with lock:
            delay = rng.uniform(lo, hi)
        return always("human", delay=delay)(data)
    return policy



# --- set-up and tear-down -------------------------------------------------------------------------
def lock_database_name(db_name: str) -> psycopg.Connection:
    """Hold a PostgreSQL advisory lock for the whole run: two runs would drop each other's database."""
    conn = psycopg.connect(PG_ADMIN_URL, autocommit=True)
    if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (db_name,)).fetchone()[0]:
        conn.close()
        raise SystemExit(f"another benchmark run holds {db_name}; wait for it to finish")
    return conn


def redis_keys_delete(prefix: str, url: str = BROKER_URL) -> int:
    """Delete every key under `prefix` (a run's own); returns how many there were."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start:start + 500])
    return len(keys)


def drop_database(db_name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db_name)))


def create_database(db_name: str) -> None:
    """The database, empty: dropped first if it exists."""
    drop_database(db_name)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))


def exe(name: str) -> list[str]:
    path = BIN / name
    return [str(path)] if path.exists() else [sys.executable, "-m", name]


@dataclass
class StackConfig:
    db_name: str
    web_workers: int = 2
    worker_concurrency: list[int] = field(default_factory=lambda: [4])  # one entry per `celery worker`
    queues: list[str] | None = None  # one -Q value per worker process; None: every queue
    beat: bool = True
    call_delay: tuple[float, float] = (1.0, 3.0)
    # The scenario asks the callback for its settings as the call starts (telephony/voxengine/leadcaller.js),
    # as every real call does: a web request per lead besides the intake and the result.
    settings_fetch: bool = True
    bitrix_delay: float | None = None
    log_level: str = "WARNING"
    keep_db: bool = False
    settings_module: str = "leadcaller.settings"
    extra_env: dict[str, str] = field(default_factory=dict)
    # Issue 15: the Procfile's own lines (web, call, worker, beat) instead of the commands built here;
    # WORKER_CONCURRENCY and CALL_CONCURRENCY from `procfile_env`.
    procfile: bool = False
    procfile_env: dict[str, str] = field(default_factory=dict)
    bitrix_fake_latency: float | None = None  # the strict Bitrix24 fake (leaky bucket 2/s, burst 50)
    telegram: bool = False  # the Telegram fake with the Bots FAQ limits, one supergroup
    floor: bool = False  # bench/floor.py's worker (-Q floor), for the floor pipeline


def procfile_lines() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


class Stack:
    """The Procfile's processes on their own database and Redis key prefix, fakes in this process."""

    def __init__(self, config: StackConfig, tmp: Path):
        self.config, self.tmp = config, tmp
        self.tag = secrets.token_hex(4)
        self.procs: list[Proc] = []
        self.vox: FakeVoximplant | None = None
        self.bitrix: SlowBitrix | None = None
        self.b24 = None  # FakeBitrix24
        self.tg = None  # FakeTelegram
        self.tg_chat = 0
        self.db_created = False
        self.web_port = 0
        self.env: dict[str, str] = {}

    @property
    def prefix(self) -> str:
        return f"lc-bench-{self.tag}:"

    @property
    def db_url(self) -> str:
        """For psycopg in this process."""
        return f"postgresql://postgres@{PG_SERVER}/{self.config.db_name}"

    def manage(self, *argv: str) -> None:
        cmd = [sys.executable, "manage.py", *argv]
        result = subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        c = self.config
        self.web_port = free_port()
        self.vox = FakeVoximplant(simulate=call_delay_policy(*c.call_delay), fetch_settings=c.settings_fetch).start()
        credentials = self.vox.write_credentials(self.tmp / "voximplant.json")
        if c.bitrix_delay is not None:
            self.bitrix = SlowBitrix(c.bitrix_delay)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BITRIX_", "VOXIMPLANT_", "TELEGRAM_"))}
        env.update({
            "DATABASE_URL": f"postgres://postgres@{PG_SERVER}/{c.db_name}",
            "CELERY_BROKER_URL": BROKER_URL,
            "REDIS_KEY_PREFIX": self.prefix,
            "LEADCALLER_VAR_DIR": str(self.tmp / "var"),
            "VOXIMPLANT_API_URL": self.vox.url,
            "VOXIMPLANT_CREDENTIALS": str(credentials),
            "VOXIMPLANT_RULE_ID": "1",
            "VOXIMPLANT_CALLER_ID": "74950000000",
            "VOXIMPLANT_CALLBACK_SECRET": secrets.token_urlsafe(24),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.web_port}",
            "CALLING_HOURS": "mon-sun 00:00-24:00",
            "LEAD_LOCAL_HOURS": "00:00-24:00",
            "SKIP_HOLIDAYS": "false",
            "THROTTLE_PER_IP": "off",
            "THROTTLE_PER_PHONE": "off",
            "CALL_MAX_PER_NUMBER": "0",
            # A benchmark dials thousands of leads in minutes: no site budget, no hourly ceiling.
            "CALL_DAILY_BUDGET": "0",
            "CALL_HOURLY_CEILING": "0",
            "LOG_LEVEL": c.log_level,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SETTINGS_MODULE": c.settings_module,
            "PYTHONUNBUFFERED": "1",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            **c.extra_env,
        })
        if self.bitrix is not None:
            env["BITRIX_WEBHOOK_URL"] = self.bitrix.url
        if c.bitrix_fake_latency is not None:
            from demo.fakes.bitrix24 import FakeBitrix24

            self.b24 = FakeBitrix24(latency=c.bitrix_fake_latency).start()
            env["BITRIX_WEBHOOK_URL"] = self.b24.webhook_url
        if c.telegram:
            from demo.fakes.telegram import FakeTelegram

            self.tg = FakeTelegram().start()
            self.tg_chat = -1000000000000 - random.randrange(10 ** 9)
            self.tg.add_chat(self.tg_chat, "supergroup", title="Sales")
            env.update(TELEGRAM_API_URL=self.tg.url, TELEGRAM_BOT_TOKEN=self.tg.token, TELEGRAM_CHAT_ID=str(self.tg_chat))
        self.env = env

        log(f"creating database {c.db_name} and migrating")
        create_database(c.db_name)
        self.db_created = True
        self.manage("migrate", "--noinput")
        self.manage("shell", "-c",
                    f"from leads.models import Site; Site.objects.create(domain={SITE_DOMAIN!r}, name='Bench shop')")

        if c.procfile:
            # As honcho runs them: through a shell, which expands ${PORT:-8000} and the others.
            penv = {**env, "PORT": str(self.web_port), "WEB_CONCURRENCY": str(c.web_workers), **c.procfile_env}
            for name, line in procfile_lines().items():
                if name == "beat" and not c.beat:
                    continue
                line = line.replace("@%h", f"-{self.tag}@%h")  # node names of their own on a shared Redis
                # The celery lines log at INFO whatever log_level says: the task counts and stage times are
                # read from their "received" and "succeeded" lines.
                proc_env = penv if name == "web" else {**penv, "LOG_LEVEL": "INFO"}
                self.procs.append(Proc(name, ["bash", "-c", "exec " + line], proc_env, self.tmp / f"{name}.log"))
        else:
            web_cmd = [*exe("gunicorn"), "leadcaller.wsgi", "--bind", f"127.0.0.1:{self.web_port}",
                       "--workers", str(c.web_workers), "--access-logfile", "-", "--forwarded-allow-ips", "127.0.0.1"]
            self.procs.append(Proc("web", web_cmd, env, self.tmp / "web.log"))
            for i, concurrency in enumerate(c.worker_concurrency):
                cmd = [*exe("celery"), "-A", "leadcaller", "worker", "--loglevel", "INFO",
                       "--concurrency", str(concurrency), "--hostname", f"bench{i + 1}-{self.tag}@%h"]
                if c.queues:
                    cmd += ["-Q", c.queues[i]]
                self.procs.append(Proc(f"worker{i + 1}", cmd, env, self.tmp / f"worker{i + 1}.log"))
            if c.beat:
                cmd = [*exe("celery"), "-A", "leadcaller", "beat", "--loglevel", "INFO"]
                self.procs.append(Proc("beat", cmd, env, self.tmp / "beat.log"))
        if c.floor:
            cmd = [*exe("celery"), "-A", "leadcaller", "worker", "-I", "bench.floor", "-Q", "floor", "--pool", "prefork",
                   "--concurrency", "2", "--loglevel", "INFO", "--hostname", f"floor-{self.tag}@%h"]
            self.procs.append(Proc("floor", cmd, env, self.tmp / "floor.log"))
        for p in self.procs:
            log(f"started {p.name} pid {p.pid}: {shlex.join(p.cmd)}")
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for p in self.procs:
                if p.popen.poll() is not None:
                    raise RuntimeError(f"{p.name} exited with {p.popen.returncode}:\n{p.tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not answer /healthz with 200 within {timeout:.0f} s")
            time.sleep(0.2)
        log(f"web answers /healthz on port {self.web_port}")

    def stop(self) -> None:
        db_name = self.config.db_name
        for p in reversed(self.procs):
            try:
                p.stop()
                log(f"stopped {p.name} (pid {p.pid}, exit {p.popen.returncode})")
            except Exception as exc:  # noqa: BLE001  keep cleaning up
                log(f"could not stop {p.name}: {exc}")
        if self.vox is not None:
            self.vox.stop()
        if self.bitrix is not None:
            self.bitrix.stop()
        for fake in (self.b24, self.tg):
            if fake is not None:
                fake.stop()
        try:
            log(f"deleted {redis_keys_delete(self.prefix)} Redis keys under {self.prefix}")
        except Exception as exc:  # noqa: BLE001
            log(f"could not delete Redis keys under {self.prefix}: {exc}")
        if self.db_created and not self.config.keep_db:
            try:
                drop_database(db_name)
                log(f"dropped database {db_name}")
            except Exception as exc:  # noqa: BLE001
                log(f"could not drop database {db_name}: {exc}")
        elif self.db_created:
            log(f"kept database {db_name} (--keep-db)")

    def cpu_groups(self) -> dict[str, list[int]]:
        """Process groups whose CPU time a report splits: ours by role, PostgreSQL and Redis whole."""
        trees = {p.name: p.tree() for p in self.procs}
        return {"web": trees.get("web", []),
                "workers": [pid for n, t in trees.items() if n.startswith(("worker", "call")) for pid in t],
                **({"floor worker": trees["floor"]} if "floor" in trees else {}),
                "beat": trees.get("beat", []), "bench (this process)": [os.getpid()],
                "postgres (all)": pids_named("postgres"), "redis-server (all)": pids_named("redis-server")}

    def cpu_split(self, used: dict[int, tuple[str, float]], groups: dict[str, list[int]],
                  extra: dict[str, int] | None = None) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """Core-seconds of a CpuWatch window by group, and the processes that are not ours.

        Per pid from the watch's samples, so processes that ended inside the window still count.
        PostgreSQL backends are told apart by the database in their command line: ours, server
        background work (shared with every user), and other databases (someone else's).
        """
        db_name = self.config.db_name
        role = {pid: name for name in ("web", "workers", "beat", "bench (this process)") for pid in groups.get(name, [])}
        role.update({pid: name for name, pid in (extra or {}).items()})
        split = {name: 0.0 for name in ("web", "workers", "beat", "bench (this process)", *(extra or {}),
                                        "postgres (this database)", "postgres (server)", "redis-server")}
        foreign = []
        for pid, (cmd, seconds) in used.items():
            if pid in role:
                split[role[pid]] += seconds
            elif cmd.startswith("postgres: ") and db_name in cmd.split(": ")[-1].split():
                split["postgres (this database)"] += seconds  # "postgres: 15/main: <user> <database> <host> <state>"
            elif cmd.startswith("postgres: ") and cmd.split(": ")[-1].startswith(_PG_SERVER_PROCESSES):
                split["postgres (server)"] += seconds
            elif cmd.startswith("/usr/bin/redis-server") or cmd.startswith("redis-server"):
                split["redis-server"] += seconds
            elif seconds >= 0.3:
                foreign.append({"core_s": round(seconds, 2), "cmd": cmd})
        foreign.sort(key=lambda f: -f["core_s"])
        return {k: round(v, 2) for k, v in split.items()}, foreign



def start_scenarios_by_phone(stack: Stack) -> dict[str, list[float]]:
    """phone -> receive times (monotonic) of the StartScenarios requests at the fake that carried it."""
    found: dict[str, list[float]] = {}
    missing_phone: list[tuple[int, float]] = []
    for req in stack.vox.requests:
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
        with psycopg.connect(stack.db_url) as conn:
            for attempt_id, received in missing_phone:
                row = conn.execute("SELECT /* bench */ phone FROM telephony_callattempt WHERE id = %s",
                                   (attempt_id,)).fetchone()
                if row:
                    found.setdefault(row[0], []).append(received)
    return found


def run_facts(script: str, argv: list[str] | None) -> dict[str, Any]:
    """What every report starts with: how the run was started, when, on what machine, from which commit."""
    return {"command": command_line(script, argv),
            "date": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
            "machine": machine_facts(), "source": source_facts()}


def command_line(script: str, argv: list[str] | None) -> str:
    """How this run was started, for the report: `<python> bench/<script> <arguments>`."""
    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(ROOT)) else sys.executable
    return shlex.join([python, f"bench/{script}", *(sys.argv[1:] if argv is None else argv)])


def raise_interrupt(signum: int, frame: object) -> None:
    """SIGTERM handler: handled like Ctrl-C, so a script's `finally` always cleans up."""
    raise KeyboardInterrupt


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, default=str))
    log(f"wrote {path}")


def copy_logs(procs: list[Proc], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for p in procs:
        shutil.copy(p.log_path, folder / p.log_path.name)
    log(f"process logs copied to {folder}")


def source_line(src: dict[str, Any]) -> str | None:
    """The report's "source" line from source_facts(): the commit, and any modified tracked files."""
    if not src.get("commit"):
        return None
    dirty = src["modified_tracked_files"]
    return (f"source  : {src['root']} at {src['commit'][:10]} ({src['subject'][:60]})"
            + (f"; {len(dirty)} tracked files MODIFIED: {', '.join(dirty[:6])}" if dirty else "; clean"))


def source_facts() -> dict[str, Any]:
    """Which code ran: the commit of ROOT and whether its tracked files differ from it."""
    def git(*argv: str) -> str:
        # Only trailing newlines go: a porcelain status line starts with a meaningful space.
        return subprocess.run(["git", "-C", str(ROOT), *argv], capture_output=True, text=True,
                              check=True).stdout.rstrip("\n")
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

