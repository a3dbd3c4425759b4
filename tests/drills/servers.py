"""Private server instances for the fault drills: Redis, PostgreSQL, gunicorn, each on a spare port.

Every process here is started by the drill and stopped by its own process id, never by name: the
machine's shared PostgreSQL (5432), Redis (6379) and RabbitMQ (5672) are never touched.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import stop_pid, wait_for

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("DRILL_PG_BIN", "/usr/lib/postgresql/15/bin"))


def spare_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), 0.5).close()
        return True
    except OSError:
        return False


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    """wait_for that raises: `what` says what did not happen."""
    if not wait_for(predicate, timeout=timeout, interval=interval):
        raise TimeoutError(f"{what} within {timeout} s")


def require(*binaries: str | Path) -> None:
    for binary in binaries:
        found = Path(binary).exists() if os.sep in str(binary) else shutil.which(str(binary))
        if not found:
            pytest.skip(f"{binary} is not installed; this drill needs it")


class RedisServer:
    """`redis-server` without persistence on a spare port; `stop()` and `start()` keep the port."""

    def __init__(self, log_dir: Path) -> None:
        require("redis-server")
        self.port = spare_port()
        self.log = log_dir / f"redis-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: answers(self.port), 10, f"redis-server on {self.port} did not answer")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)
            wait_until(lambda: not answers(self.port), 10, f"redis-server on {self.port} still answers")


class PostgresServer:
    """A throw-away PostgreSQL cluster (initdb into a temp dir) on a spare port, trust auth.

    As root the server runs as the `postgres` user, which owns the temp dir.
    """

    def __init__(self) -> None:
        require(PG_BIN / "initdb", PG_BIN / "postgres")
        self.port = spare_port()
        self.dir = Path(tempfile.mkdtemp(prefix="leadcaller-drill-pg-"))
        self.data, self.socket_dir, self.log = self.dir / "data", self.dir / "sock", self.dir / "postgres.log"
        self.socket_dir.mkdir()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.dir, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.proc: subprocess.Popen | None = None
        subprocess.run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                        "--no-sync", "-E", "UTF8", "--locale", "C"],
                       check=True, capture_output=True, user=self.user)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.socket_dir),
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"],
                stdout=log, stderr=subprocess.STDOUT, user=self.user)
        wait_until(self._ready, 30, f"PostgreSQL on {self.port} did not accept connections")
        return self

    def _ready(self) -> bool:
        import psycopg

        try:
            psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                            connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster): open sessions are cut, as in a real restart."""
        if self.proc is not None:
            stop_pid(self.proc, signal.SIGINT, timeout=30)
            wait_until(lambda: not answers(self.port), 10, f"PostgreSQL on {self.port} still answers")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def django_process(args: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen:
    """A process of this project (manage.py, gunicorn, celery) with the drill's environment."""
    with open(log, "a") as out:
        return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env={**os.environ, **env},
                                stdout=out, stderr=subprocess.STDOUT)


def migrate(*, env: dict[str, str], log: Path) -> None:
    proc = django_process(["django", "migrate", "--noinput", "-v", "0"], env=env, log=log)
    assert proc.wait(timeout=180) == 0, log.read_text()[-3000:]


class WebServer:
    """The Procfile's web process (gunicorn serving leadcaller.wsgi) on a spare port."""

    def __init__(self, *, env: dict[str, str], log: Path, workers: int = 2) -> None:
        self.port, self.env, self.log, self.workers = spare_port(), env, log, workers
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebServer:
        self.proc = django_process(
            ["gunicorn", "leadcaller.wsgi", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
             "--access-logfile", "-"],
            env=self.env, log=self.log)
        wait_until(lambda: answers(self.port) or self.proc.poll() is not None, 30, "gunicorn did not listen")
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        return self

    def post_lead(self, phone: str):
        """A browser form's post from the drills' site; returns the response."""
        import requests

        return requests.post(f"{self.url}/api/v1/leads/", json={"phone": phone, "name": "Drill"},
                             headers={"Origin": "https://shop.example"}, timeout=30)

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)


def start_worker(*, env: dict[str, str], log: Path) -> subprocess.Popen:
    """A Celery worker consuming every queue, in one process (threads), so SIGKILL to its id takes
    down every task it was running, as a crashed machine would."""
    return django_process(["celery", "-A", "leadcaller", "worker", "--pool", "threads", "--concurrency", "6",
                           "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO",
                           "-n", f"drill-{spare_port()}@%h"], env=env, log=log)


def start_procfile_line(name: str, *, env: dict[str, str], log: Path) -> subprocess.Popen:
    """The Procfile's `name` line as honcho runs it: through a shell that expands its ${...} and then
    becomes the process (exec), in a session of its own so that a drill can kill it with its children.
    The node name gets a suffix of its own: several drills may share a machine."""
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines()
                 if line.strip() and not line.startswith("#"))
    line = lines[name].replace("@%h", f"-{spare_port()}@%h")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    with open(log, "a") as out:
        return subprocess.Popen(["bash", "-c", "exec " + line], cwd=ROOT, env={**os.environ, **env, "PATH": path},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def start_beat(*, env: dict[str, str], log: Path, schedule: Path) -> subprocess.Popen:
    return django_process(["celery", "-A", "leadcaller", "beat", "-l", "INFO", "--schedule", str(schedule)],
                          env=env, log=log)
