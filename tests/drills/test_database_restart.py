"""Drill: PostgreSQL restarts under a running web process (gunicorn, as in the Procfile) and worker.
Both keep their connections between requests and tasks; after the restart the very next requests
must succeed without restarting either process, and the leads posted after it are processed."""

from __future__ import annotations

import psycopg
import pytest
import requests

from tests.conftest import wait_for
from tests.drills import servers
from tests.drills.report import Tally

pytestmark = [pytest.mark.drill]

DATABASE = "leadcaller_drill"


@pytest.fixture
def postgres():
    server = servers.PostgresServer()
    try:
        server.start()
        server.create_database(DATABASE)
        yield server
    finally:
        server.remove()


def lead_counts(server: servers.PostgresServer, phones: list[str]) -> Tally:
    """The report, read straight from the drill's own database (not this test run's)."""
    with psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname=DATABASE) as conn:
        stored, processed, manual = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE crm_state NOT IN ('pending', 'running') "
            "AND call_state NOT IN ('pending', 'running') AND notify_state NOT IN ('pending', 'running')), "
            "count(*) FILTER (WHERE status = 'manual') FROM leads_lead WHERE phone = ANY(%s)", [phones]).fetchone()
    return Tally(sent=len(phones), stored=stored, processed=processed, manual=manual, lost=len(phones) - processed)


def test_web_and_worker_recover_from_a_database_restart_without_being_restarted(postgres, processes, tmp_path):
    env = {"DATABASE_URL": postgres.url(DATABASE), "CELERY_BROKER_URL": "filesystem://localhost//",
           "LEADCALLER_VAR_DIR": str(tmp_path / "var"), "THROTTLE_PER_IP": "off", "THROTTLE_PER_PHONE": "off",
           "UNKNOWN_SITES": "accept", "SWEEP_INTERVAL": "1"}
    servers.migrate(env=env, log=processes.log("migrate"))
    web = processes.web(env)
    processes.worker(env)
    processes.beat(env)
    phones = [f"+7912600{n:04d}" for n in range(6)]

    before = [web.post_lead(phone).status_code for phone in phones[:3]]
    # Restart an idle database: a task cut by the shutdown is sent again by the sweeper only once its
    # message is a minute old (REQUEUE_AFTER), which the drill would then wait for.
    assert wait_for(lambda: lead_counts(postgres, phones[:3]).lost == 0, timeout=60, interval=0.5), processes.logs()
    for _ in range(4):  # every gunicorn worker holds a connection opened before the restart
        requests.get(f"{web.url}/healthz", timeout=10)
    postgres.stop()
    while_down = requests.get(f"{web.url}/healthz", timeout=30)
    refused = web.post_lead("+79126009999")  # the form is told to send it again, not that it was wrong
    postgres.start()
    health_after = [requests.get(f"{web.url}/healthz", timeout=10).status_code for _ in range(4)]
    after = [web.post_lead(phone).status_code for phone in phones[3:]]

    finished = wait_for(lambda: lead_counts(postgres, phones).lost == 0, timeout=150, interval=0.5)
    tally = lead_counts(postgres, phones)
    print(tally.line("database-restart"))
    assert finished, processes.logs()
    assert before == after == [201, 201, 201]
    assert while_down.status_code == 503 and while_down.json()["checks"]["database"].startswith("error")
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert health_after == [200, 200, 200, 200]
    # No provider is connected here: every lead ends with a person, which proves the worker ran it.
    assert tally.stored == tally.manual == len(phones) and tally.lost == 0
