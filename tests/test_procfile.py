"""The Procfile's web line serves the product as deployed: gunicorn, DEBUG off, static files by the app."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, database_url, stop_pid, wait_for


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_procfile_names_web_call_worker_and_beat():
    processes = procfile()

    assert set(processes) == {"web", "call", "worker", "beat"}
    assert processes["beat"].startswith("celery -A leadcaller beat")


def test_call_worker_consumes_only_the_call_queue_and_the_other_worker_everything_else():
    """DESIGN.md, Processes: no CRM or Telegram task can take the processes a dial needs."""
    from leadcaller.celery import app

    call, other = _worker_options(procfile()["call"]), _worker_options(procfile()["worker"])
    declared = {queue.name for queue in app.conf.task_queues}

    assert call["-Q"] == "call" and call["--pool"] == "prefork"
    assert set(other["-Q"].split(",")) == declared - {"call"}
    assert other["--pool"] == "threads"  # waits on slow remotes cheaply (docs/benchmarks.md)
    assert call["-n"] != other["-n"]  # two workers on one machine need distinct node names


def test_only_the_call_step_is_routed_to_the_call_queue():
    from leadcaller.celery import app

    app.loader.import_default_modules()
    ours = [name for name in app.tasks if not name.startswith("celery.")]
    queues = {name: _queue_of(app, name) for name in ours}

    assert queues["telephony.tasks.call_step"] == "call"
    assert [name for name, queue in queues.items() if queue == "call"] == ["telephony.tasks.call_step"]
    assert set(queues.values()) <= {queue.name for queue in app.conf.task_queues}


def test_the_celery_lines_log_at_LOG_LEVEL():
    """Celery sets the root logger's level from its --loglevel, over Django's LOGGING: a fixed INFO there
    left the workers at INFO with LOG_LEVEL=WARNING."""
    lines = procfile()
    assert [name for name in ("call", "worker", "beat") if "--loglevel ${LOG_LEVEL:-INFO}" not in lines[name]] == []


@pytest.mark.parametrize("level, starting_logged", [("WARNING", False), ("INFO", True)])
def test_the_beat_line_logs_at_LOG_LEVEL(level, starting_logged, tmp_path):
    # A var directory of its own: the schedule file, and the embedded broker for what beat sends.
    env = {name: value for name, value in os.environ.items() if name != "CELERY_BROKER_URL"}
    env |= {"LOG_LEVEL": level, "LEADCALLER_VAR_DIR": str(tmp_path),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    log_path = tmp_path / "beat.log"
    with open(log_path, "w") as log:
        beat = subprocess.Popen(["bash", "-c", "exec " + procfile()["beat"]], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        # Beat opens its schedule file just after its INFO line "beat: Starting...".
        assert wait_for(lambda: any(tmp_path.glob("celerybeat-schedule*")), timeout=30), log_path.read_text()
    finally:
        stop_pid(beat)
    lines = [line for line in log_path.read_text().splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert any("beat: Starting" in line for line in lines) is starting_logged, lines


def _queue_of(app, name: str) -> str:
    route = app.amqp.router.route({}, name)
    queue = route["queue"]
    return queue.name if hasattr(queue, "name") else str(queue)


def _worker_options(line: str) -> dict[str, str]:
    words = line.split()
    assert words[:4] == ["celery", "-A", "leadcaller", "worker"], line
    return {word: words[i + 1] for i, word in enumerate(words) if word.startswith("-") and i + 1 < len(words)}


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_web_line_serves_pages_static_files_and_health_with_debug_off(free_port, tmp_path):
    env = {**os.environ, "PORT": str(free_port), "DEBUG": "false", "DATABASE_URL": database_url(),
           "ALLOWED_HOSTS": "127.0.0.1", "WEB_CONCURRENCY": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    log = open(tmp_path / "web.log", "w")
    # As honcho runs it: through a shell, which expands ${PORT:-8000}; exec so the pid is gunicorn's.
    proc = subprocess.Popen(["bash", "-c", "exec " + procfile()["web"]], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{free_port}"
    try:
        assert wait_for(lambda: _answers(base), timeout=30), (tmp_path / "web.log").read_text()[-2000:]
        assert requests.get(f"{base}/healthz", timeout=5).json()["checks"]["database"] == "ok"
        home = requests.get(f"{base}/", timeout=5)
        assert home.status_code == 200 and "lead-form" in home.text
        script = requests.get(f"{base}/static/js/lead-form.js", timeout=5)
        assert script.status_code == 200 and "fetch(" in script.text
        docs = requests.get(f"{base}/api/docs/", timeout=5)
        assert docs.status_code == 200
        bundle = re.search(r'src="(/static/drf_spectacular_sidecar/[^"]+\.js)"', docs.text).group(1)
        assert requests.get(base + bundle, timeout=5).status_code == 200
        assert requests.get(f"{base}/admin/login/", timeout=5).status_code == 200
        keyed = requests.post(f"{base}/api/v1/leads/?key=Zx9-not-a-real-key", json={"phone": "+79123456789"},
                              timeout=5)
        assert keyed.status_code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()
    access_log = (tmp_path / "web.log").read_text()
    assert "/api/v1/leads/?key=[redacted]" in access_log and "Zx9-not-a-real-key" not in access_log


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code in (200, 503)
    except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still starting its workers
        return False
