"""Shared fixtures. The suite runs on whatever DATABASE_URL and CELERY_BROKER_URL name
(PostgreSQL and Redis in CI), and on SQLite with the embedded broker when they are unset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from celery import current_app
from django.db import connection
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import SiteFactory


def pytest_collection_modifyitems(items):
    """A test that starts a real Celery worker depends on the broker: CI runs those on Redis and
    again on RabbitMQ (`-m broker`)."""
    for item in items:
        if "celery_worker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.broker)


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Throttle counters and cached site lists must not leak from one test into the next.

    A per-test local-memory cache, never `clear()` on a shared Redis.
    """
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": uuid.uuid4().hex}}
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """A request in Russian leaves Russian active in the thread (LocaleMiddleware activates, nothing
    deactivates): every test starts from the default language, whatever ran before it."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple, float | None]]:
    """What goes to the broker, as (task name, args, countdown): Celery's own send_task, not our code."""
    calls: list[tuple[str, tuple, float | None]] = []
    monkeypatch.setattr(current_app, "send_task",
                        lambda name, args=(), countdown=None, **kw: calls.append((name, tuple(args), countdown)))
    return calls


@pytest.fixture
def write_backs_at_once(settings):
    """Call outcomes written back to Bitrix24 as soon as a claimer runs, for tests of what is written rather
    than when (tests/leads/test_crm_gather.py has the span they gather in)."""
    settings.CRM_WRITE_BACK_GATHER = 0


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def site(db):
    return SiteFactory(domain="shop.example", name="Shop")


def post_json(api: APIClient, data, **headers):
    return api.post("/api/v1/leads/", data, format="json", **headers)


ROOT = Path(__file__).resolve().parents[1]


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def run_together(*jobs):
    """Run each job in a thread of its own, all released at the same moment (a race), each with its own
    database connection; returns their results in order, or raises the first job's error."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    start = threading.Barrier(len(jobs))

    def run(job):
        try:
            start.wait(timeout=10)
            return job()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs, timeout=60))


def beside(write, *, lock_timeout: str = "2s") -> str:
    """Run `write` in a transaction on another connection (a thread of its own), as another process would
    while the caller holds its locks: "went through", or why it gave up (PostgreSQL waits `lock_timeout`
    for a lock, then raises)."""
    import threading

    from django.db import DatabaseError, connections, transaction

    outcome: list[str] = []

    def run() -> None:
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{lock_timeout}'")
                write()
            outcome.append("went through")
        except DatabaseError as exc:
            outcome.append(f"gave up: {exc}")
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return outcome[0]


def stop_pid(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Stop one process a test started, by its id; kill it if it does not go in time."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def database_url() -> str:
    """The URL of the test database this run created, for a process started by a test."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """Start a real Celery worker (a separate process) on the test database and the configured broker.

    Returns a function taking extra environment variables; it yields (process, log path).
    Each worker started is stopped by its own process id at the end of the test.
    """
    started: list[subprocess.Popen] = []

    def start(**env_vars: str) -> tuple[subprocess.Popen, Path]:
        log_path = tmp_path / f"worker-{len(started)}.log"
        env = {**os.environ, "DATABASE_URL": database_url(), "LOG_LEVEL": "INFO", **env_vars}
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "leadcaller", "worker", "--pool=solo", "--without-heartbeat",
                 "--without-gossip", "--without-mingle", "-l", "INFO"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        started.append(proc)
        return proc, log_path

    yield start
    for proc in started:
        stop_pid(proc)


def left_the_page(element):
    """A wait condition: `element`'s page has been replaced. Selenium's staleness_of lets through the error
    Chromium gives for a node read mid-navigation ("does not belong to the document"); any refusal to
    read the element means it is gone."""
    from selenium.common.exceptions import WebDriverException

    def gone(_browser) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:
            return True
        return False

    return gone


@pytest.fixture
def browser(tmp_path):
    """Debian's headless Chromium through Selenium, started for the test and quit after it.

    Skips the test when `chromium` and `chromium-driver` are not installed (.ci/run installs them).
    Console messages are kept: `browser.get_log("browser")`.
    """
    import shutil

    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


@pytest.fixture
def tg(settings):
    """A running fake Bot API with one supergroup as the default chat (a fresh id per test, so the
    shared rate-limit buckets of one test never slow another)."""
    import random

    from demo.fakes.telegram import FakeTelegram

    with FakeTelegram(timeout_delay=0.6) as fake:
        chat_id = -1000000000000 - random.randrange(10 ** 9)
        fake.add_chat(chat_id, "supergroup", title="Sales")
        fake.chat_id = chat_id
        settings.TELEGRAM_API_URL, settings.TELEGRAM_BOT_TOKEN = fake.url, fake.token
        settings.TELEGRAM_CHAT_ID, settings.TELEGRAM_ALERT_CHAT_ID = str(chat_id), ""
        yield fake


@pytest.fixture
def groups(db):
    """The managers and administrators groups (a transactional test's flush removes what the migration made)."""
    from leads.roles import groups_ensure

    groups_ensure()


def _staff_in(group: str, name: str):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(name, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def manager(groups):
    """A staff user in the managers group."""
    return _staff_in("managers", "manager")


@pytest.fixture
def administrator(groups):
    """A staff user in the administrators group."""
    return _staff_in("administrators", "administrator")
