"""GET /healthz names the part that is down."""

from __future__ import annotations

import pytest
from django.utils import timezone

from leadcaller import health
from telephony.models import CallAttempt
from telephony.scenario import scenario_version
from tests.factories import CallAttemptFactory


@pytest.mark.broker
@pytest.mark.django_db
def test_healthz_is_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"},
                               "details": {"ceilings": [], "scenario": response.json()["details"]["scenario"]}}


@pytest.fixture(params=["redis://127.0.0.1:1/0", "amqp://guest:guest@127.0.0.1:1//"], ids=["redis", "rabbitmq"])
def unreachable_broker(monkeypatch, request):
    """Point the Celery app at a port where nothing listens: the real connection attempt fails."""
    from leadcaller.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", request.param)
    saved = {key: app.conf[key] for key in ("broker_url", "broker_transport_options")}
    app.conf.update(broker_url=request.param, broker_transport_options={"socket_connect_timeout": 0.5})
    yield
    app.conf.update(saved)


@pytest.mark.django_db
def test_healthz_is_503_naming_the_broker_when_it_is_unreachable(client, unreachable_broker):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error")


def test_healthz_is_503_naming_the_database_when_it_is_unreachable(client, monkeypatch):
    def broken():
        raise ConnectionError("database is down")

    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error: ConnectionError"


@pytest.fixture
def broker_answers(monkeypatch):
    """These tests are about the details, wherever a broker runs or not."""
    monkeypatch.setitem(health.CHECKS, "broker", lambda: None)


@pytest.mark.django_db
def test_healthz_details_name_the_expected_and_the_last_seen_scenario_version(client, broker_answers):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["details"]["scenario"] == {"expected": scenario_version(), "last_seen": None, "warning": ""}


@pytest.mark.django_db
def test_an_outdated_scenario_is_a_warning_in_the_details_and_the_service_stays_healthy(client, broker_answers):
    CallAttemptFactory(phone="+79120000001", status=CallAttempt.Status.FINISHED,
                       outcome="human", scenario_version=None, finished_at=timezone.now())
    response = client.get("/healthz")

    assert response.status_code == 200 and response.json()["status"] == "ok"
    scenario = response.json()["details"]["scenario"]
    assert (scenario["expected"], scenario["last_seen"]) == (scenario_version(), None)
    assert "Upload telephony/voxengine/leadcaller.js again" in scenario["warning"]


@pytest.mark.django_db
def test_a_failing_detail_does_not_fail_the_health_check(client, broker_answers, monkeypatch):
    def broken():
        raise RuntimeError("no version line")

    monkeypatch.setattr(health, "scenario_status", broken)
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["details"]["scenario"] == {"error": "RuntimeError"}
