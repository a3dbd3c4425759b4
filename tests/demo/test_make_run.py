"""`make run` on a fresh machine with no credentials: a lead from the demo form reaches all three
simulators, and the /demo/ page shows it. The launcher is started the way the Makefile starts it,
as its own process group on spare ports, with a private var/ (SQLite and the embedded broker)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from demo.launcher import free_ports
from tests.conftest import ROOT, wait_for

CREDENTIALS = ("BITRIX_WEBHOOK_URL", "BITRIX_PORTAL_URL", "BITRIX_CLIENT_ID", "BITRIX_CLIENT_SECRET",
               "VOXIMPLANT_CREDENTIALS", "VOXIMPLANT_ACCOUNT_ID", "VOXIMPLANT_API_KEY", "TELEGRAM_BOT_TOKEN")
# What a fresh machine does not have: services, provider settings, our test run's own choices.
UNSET = ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "REDIS_KEY_PREFIX", "PUBLIC_BASE_URL", "CALLING_HOURS",
         "DEMO_SIMULATORS_URL", "DJANGO_SETTINGS_MODULE", "PORT")
PROVIDER = re.compile(r"^(BITRIX|VOXIMPLANT|TELEGRAM)_")


@pytest.fixture
def make_run(tmp_path):
    """Start `python -m demo.launcher` as `make run` does (after `migrate`); stop its process group after."""
    var = tmp_path / "var"
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in UNSET and not PROVIDER.match(k)}
    env.update({name: "" for name in CREDENTIALS})  # an empty value also wins over a checkout's .env
    env.update(LEADCALLER_VAR_DIR=str(var), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", WEB_CONCURRENCY="1",
               WORKER_CONCURRENCY="2", SWEEP_INTERVAL="1")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    port = free_ports(1)[0]
    log_path = tmp_path / "make-run.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "demo.launcher", "--port", str(port), "--call-time-scale", "0.05"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", var, log_path
    finally:
        _stop(proc, log_path)
        log.close()


def _stop(proc: subprocess.Popen, log_path: Path) -> None:
    """SIGTERM to the launcher's process group (honcho and what it started), then any straggler by its pid."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # honcho's own lines ("web.1 started (pid=…)"): the group leaders; a guarded command is in its leader's group.
    for pid in map(int, re.findall(r"\S+\.\d+ started \(pid=(\d+)\)", log_path.read_text())):
        try:
            os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _get(session: requests.Session, url: str) -> requests.Response | None:
    try:
        return session.get(url, timeout=5)
    except requests.ConnectionError:
        return None


def test_a_demo_form_lead_reaches_all_three_simulators_and_the_simulator_page(make_run):
    base, var, log_path = make_run
    http = requests.Session()
    http.trust_env = False  # no proxy between us and localhost
    assert wait_for(lambda: (r := _get(http, f"{base}/healthz")) is not None and r.status_code == 200,
                    timeout=120), log_path.read_text()[-3000:]
    state_url = f"http://127.0.0.1:{json.loads((var / 'demo' / 'simulators.json').read_text())['state_port']}/state.json"
    assert wait_for(lambda: _get(http, state_url) is not None, timeout=60), log_path.read_text()[-3000:]

    console = log_path.read_text()
    for line in ("Bitrix24    simulator at http://127.0.0.1:", "VoxImplant  simulator at http://127.0.0.1:",
                 "Telegram    simulator at http://127.0.0.1:", f"{base.replace('127.0.0.1', 'localhost')}/demo/",
                 "Simulated calls are made at any hour"):
        assert line in console

    # As the demo form posts it: JSON, from the page's own origin.
    answer = http.post(f"{base}/api/v1/leads/", json={"phone": "+7 912 345-67-89", "name": "Anna <b>",
                                                      "order_amount": "1500"},
                       headers={"Origin": base, "Accept": "application/json"}, timeout=10)
    assert answer.status_code == 201, answer.text
    lead_id = answer.json()["id"]

    def state():
        return http.get(state_url, timeout=5).json()

    def reached_everywhere():
        now = state()
        crm = [lead for lead in now["bitrix24"]["leads"] if lead.get("ORIGIN_ID") == lead_id]
        calls = [r for call in now["voximplant"]["calls"] for r in call["requests"]
                 if r["method"] == "POST" and r["status"] == 200 and "result" in r["payload"]]
        messages = [m for chat in now["telegram"]["chats"] for m in chat["messages"]]
        return (crm, calls, messages) if crm and calls and messages else None

    assert wait_for(reached_everywhere, timeout=120), json.dumps(state())[:3000] + log_path.read_text()[-3000:]
    crm, calls, messages = reached_everywhere()
    assert crm[0]["ORIGINATOR_ID"] == "leadcaller" and crm[0]["NAME"] == "Anna <b>"
    result = calls[0]["payload"]["result"]
    # The demo's sites are in offer mode: a person who answers talks to the demo seller.
    assert result in ("connected", "voicemail", "no_answer", "busy")
    assert any("Anna <b>" in m["plain"] for m in messages)
    assert '"token"' not in json.dumps(state())  # the attempt's HMAC is not for display

    with sqlite3.connect(var / "leadcaller.sqlite3") as db:  # the result is recorded on our lead
        outcomes = db.execute(
            "SELECT a.outcome FROM telephony_callattempt a JOIN leads_lead l ON l.id = a.lead_id "
            "WHERE l.public_id = ?", (uuid.UUID(lead_id).hex,)).fetchall()
    assert outcomes == [(result,)]

    page = http.get(f"{base}/demo/", timeout=10)
    assert page.status_code == 200
    assert lead_id in page.text and f'class="call-result">{result}<' in page.text
    assert "Anna &lt;b&gt;" in page.text and "Anna <b>" not in page.text

    # One process dying takes nothing else down: the worker is reported, started again, and calls the next lead.
    os.kill(guarded_pids(log_path, "worker")[-1], signal.SIGKILL)  # the worker this test's `make run` started
    assert wait_for(lambda: len(guarded_pids(log_path, "worker")) == 2, timeout=60), log_path.read_text()[-3000:]
    assert "worker exited with code -9; starting it again" in log_path.read_text()
    assert (health := _get(http, f"{base}/healthz")) is not None and health.status_code == 200
    again = http.post(f"{base}/api/v1/leads/", json={"phone": "+7 912 345-67-90"},
                      headers={"Origin": base.replace("127.0.0.1", "localhost")}, timeout=10)
    assert again.status_code == 201, again.text
    assert wait_for(lambda: any(call.get("custom_data", {}).get("phone") == "+79123456790"
                                for call in state()["voximplant"]["calls"]), timeout=120), log_path.read_text()[-3000:]


def guarded_pids(log_path: Path, name: str) -> list[int]:
    """The pids demo/keepalive.py started for process `name`, oldest first."""
    return [int(pid) for pid in re.findall(rf"\| {name} started \(pid=(\d+)\)", log_path.read_text())]
