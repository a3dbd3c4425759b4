"""Fixtures of the fault drills: the environment of the drill's own processes, the provider fakes,
and a register of every process a drill starts, stopped by its id at the end."""

from __future__ import annotations

import random
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.conftest import database_url
from tests.drills import servers
from demo.fakes.bitrix24 import FakeBitrix24
from demo.fakes.telegram import FakeTelegram
from demo.fakes.voximplant import FakeVoximplant, always

CALLBACK_SECRET = "drill-callback-secret"


@pytest.fixture
def drill_env(transactional_db) -> dict[str, str]:
    """For the drill's web, worker and beat: this run's test database and broker, no abuse limits
    (every post comes from one address), calls at any hour, retries and provider timeouts short. The
    processes share this run's Redis key prefix (the test process posts leads onto their queues), so the
    rate-limit buckets that earlier tests of the run spent (a chat's Telegram share, Bitrix24's) are
    emptied first: they would hold the drill's work back."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the drills run web, worker and beat on this run's database: set DATABASE_URL to PostgreSQL")
    _rate_limits_forget()
    return {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "THROTTLE_PER_IP": "off",
        "THROTTLE_PER_PHONE": "off",
        "CALLING_HOURS": "mon-sun 00:00-24:00",
        "LEAD_LOCAL_HOURS": "00:00-24:00",
        "SKIP_HOLIDAYS": "false",
        "RETRY_BACKOFF_SCALE": "0.01",
        "SWEEP_INTERVAL": "1",
        "BITRIX_BURST": "1000",
        "BITRIX_REQUESTS_PER_SECOND": "1000",
        "LOG_LEVEL": "INFO",
    }


def _rate_limits_forget() -> None:
    """Delete this run's own rate-limit buckets and marks (leads/ratelimit.py) from Redis."""
    if not django_settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return
    import redis

    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    prefix = django_settings.REDIS_KEY_PREFIX
    if not prefix:
        return  # never touch keys that other runs may share
    for pattern in (f"{prefix}leadcaller:bucket:*", f"{prefix}leadcaller:mark:*"):
        for key in client.scan_iter(match=pattern, count=500):
            client.delete(key)


@dataclass
class Providers:
    vox: FakeVoximplant
    b24: FakeBitrix24
    tg: FakeTelegram
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        for fake in (self.vox, self.b24, self.tg):
            fake.stop()


@pytest.fixture
def providers(tmp_path, settings):
    """VoxImplant (every call answered by a person), Bitrix24 and Telegram, faked on local ports."""
    vox = FakeVoximplant(simulate=always("human", duration=5), scenario_delay=0.2).start()
    b24 = FakeBitrix24(rate_limit=False).start()
    tg = FakeTelegram().start()
    chat_id = -1000000000000 - random.randrange(10 ** 9)
    tg.add_chat(chat_id, "supergroup", title="Sales")
    tg.add_chat(chat_id - 1, "supergroup", title="Alerts")  # alerts are not paced behind the cards
    env = {
        "VOXIMPLANT_API_URL": vox.url,
        "VOXIMPLANT_CREDENTIALS": str(vox.write_credentials(tmp_path / "vox.json")),
        "VOXIMPLANT_RULE_ID": "1",
        "VOXIMPLANT_CALLER_ID": "74950000000",
        "VOXIMPLANT_CALLBACK_SECRET": CALLBACK_SECRET,
        "BITRIX_WEBHOOK_URL": b24.webhook_url,
        "TELEGRAM_API_URL": tg.url,
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_CHAT_ID": str(chat_id),
        "TELEGRAM_ALERT_CHAT_ID": str(chat_id - 1),
    }
    found = Providers(vox, b24, tg, env)
    yield found
    found.stop()


class Processes:
    """Every process a drill starts, each stopped by its own id when the drill ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[subprocess.Popen] = []
        self.servers: list = []
        self.specs: dict[int, tuple[str, dict[str, str]]] = {}  # pid -> (kind, env), to revive it

    def log(self, name: str) -> Path:
        return self.folder / f"{name}-{len(self.started) + len(self.servers)}.log"

    def worker(self, env: dict[str, str]) -> subprocess.Popen:
        """A worker, returned once it consumes (or has exited)."""
        log = self.log("worker")
        proc = servers.start_worker(env=env, log=log)
        self.started.append(proc)
        self.specs[proc.pid] = ("worker", env)
        servers.wait_until(lambda: proc.poll() is not None or " ready." in log.read_text(), 60,
                           "the worker was not ready")
        return proc

    def procfile(self, name: str, env: dict[str, str]) -> subprocess.Popen:
        """The Procfile's `name` worker line (`call` or `worker`), returned once it consumes."""
        log = self.log(name)
        proc = servers.start_procfile_line(name, env=env, log=log)
        self.started.append(proc)
        self.specs[proc.pid] = (f"procfile:{name}", env)
        servers.wait_until(lambda: proc.poll() is not None or " ready." in log.read_text(), 60,
                           f"the {name} worker was not ready")
        return proc

    def beat(self, env: dict[str, str]) -> subprocess.Popen:
        proc = servers.start_beat(env=env, log=self.log("beat"), schedule=self.folder / "beat-schedule")
        self.started.append(proc)
        self.specs[proc.pid] = ("beat", env)
        return proc

    def revive(self) -> list[str]:
        """Start again each worker or beat that has exited, as a process supervisor (systemd, the
        container runtime) does in production. Returns what was restarted."""
        revived = []
        for proc in list(self.started):
            if proc.poll() is not None and proc.pid in self.specs:
                kind, env = self.specs.pop(proc.pid)
                if kind.startswith("procfile:"):
                    self.procfile(kind.split(":", 1)[1], env)
                else:
                    getattr(self, kind)(env)
                revived.append(f"{kind} (exit code {proc.returncode})")
        return revived

    def web(self, env: dict[str, str]) -> servers.WebServer:
        web = servers.WebServer(env=env, log=self.log("web"))
        self.servers.append(web)
        return web.start()

    def redis(self) -> servers.RedisServer:
        redis = servers.RedisServer(self.folder)
        self.servers.append(redis)
        return redis.start()

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text()[-2500:]}" for path in sorted(self.folder.glob("*.log")))

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            servers.stop_pid(proc, signal.SIGTERM)
        for server in reversed(self.servers):
            server.stop()


@pytest.fixture
def processes(tmp_path):
    found = Processes(tmp_path)
    yield found
    found.stop_all()
