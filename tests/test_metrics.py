"""GET /metrics: Prometheus text format, counters that move with the real code paths (against the
local fakes of the providers), state read from the database and the broker, files of several
processes added up, and access only for local scrapers or the bearer token."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from leadcaller import multiprocess
from leads import pipeline
from leads.models import Lead
from notifications.models import Notification
from notifications.services import notification_deliver
from telephony.models import CallAttempt
from telephony.tokens import attempt_token
from tests.conftest import ROOT, post_json, wait_for
from tests.factories import LeadFactory, SiteFactory
from tests.leads import conftest as leads_fixtures
from tests.telephony import conftest as telephony_fixtures

# The providers' fakes, configured as the apps' own tests have them (Telegram's `tg`: tests/conftest.py).
b24, b24_oauth = leads_fixtures.b24, leads_fixtures.b24_oauth
vox, short_timeouts = telephony_fixtures.vox, telephony_fixtures.short_timeouts
ORIGIN = {"HTTP_ORIGIN": "https://shop.example"}


def scrape(client, **headers) -> dict[str, list]:
    """Family name -> samples, parsed by prometheus_client's own parser."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {family.name: family.samples for family in text_string_to_metric_families(response.content.decode())}


def value(families: dict[str, list], sample: str, **labels: str) -> float:
    """The sum of the samples named `sample` whose labels include `labels` (over process groups too)."""
    return sum(s.value for family in families.values() for s in family
               if s.name == sample and labels.items() <= s.labels.items())


# --- format and intake -------------------------------------------------------------------------
def test_metrics_answer_in_prometheus_text_format_with_every_family(api, db):
    families = scrape(api)

    for name in ("leadcaller_leads_received", "leadcaller_leads_refused", "leadcaller_speed_to_lead_seconds",
                 "leadcaller_call_outcomes", "leadcaller_provider_requests", "leadcaller_provider_errors",
                 "leadcaller_provider_retries", "leadcaller_leads_manual", "leadcaller_steps_due",
                 "leadcaller_queue_messages", "leadcaller_state_up"):
        assert name in families, name
    assert value(families, "leadcaller_state_up", source="database") == 1
    assert value(families, "leadcaller_state_up", source="broker") == 1


def test_an_accepted_lead_counts_as_received_and_a_second_post_as_a_refused_duplicate(api, site):
    before = scrape(api)

    assert post_json(api, {"phone": "+79123456789"}, **ORIGIN).status_code == 201
    assert post_json(api, {"phone": "+79123456789"}, **ORIGIN).status_code == 200

    after = scrape(api)
    assert value(after, "leadcaller_leads_received_total") - value(before, "leadcaller_leads_received_total") == 1
    refused = "leadcaller_leads_refused_total"
    assert value(after, refused, reason="duplicate") - value(before, refused, reason="duplicate") == 1


@pytest.mark.parametrize(("body", "headers", "reason"), [
    ({"phone": "not a phone"}, ORIGIN, "invalid"),
    ({"phone": "+79123456789", "hp_website": "http://spam"}, ORIGIN, "honeypot"),
    ({"phone": "+79123456789"}, {"HTTP_X_LEADCALLER_KEY": "wrong"}, "forbidden"),
])
def test_a_refused_submission_is_counted_with_its_reason(api, site, body, headers, reason):
    before = scrape(api)

    post_json(api, body, **headers)

    after = scrape(api)
    refused = "leadcaller_leads_refused_total"
    assert value(after, refused, reason=reason) - value(before, refused, reason=reason) == 1
    assert value(after, "leadcaller_leads_received_total") == value(before, "leadcaller_leads_received_total")


# --- calls -------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_first_call_observes_speed_to_lead_and_the_scenarios_result_counts_as_an_outcome(
        api, vox, django_capture_on_commit_callbacks):
    before = scrape(api)
    lead = LeadFactory(created_at=timezone.now())
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    attempt = CallAttempt.objects.get(lead=lead)

    with_result = {"attempt_id": attempt.pk, "token": attempt_token(attempt.pk), "result": "voicemail"}
    with django_capture_on_commit_callbacks(execute=True):  # counted once the result is committed
        answer = api.post("/api/v1/telephony/voximplant/callback/", with_result, format="json")
    assert answer.status_code == 200

    after = scrape(api)
    count = "leadcaller_speed_to_lead_seconds_count"
    assert value(after, count, arrival="in_hours") - value(before, count, arrival="in_hours") == 1
    fast = "leadcaller_speed_to_lead_seconds_bucket"
    assert value(after, fast, arrival="in_hours", le="+Inf") - value(before, fast, arrival="in_hours", le="+Inf") == 1
    outcomes = "leadcaller_call_outcomes_total"
    assert value(after, outcomes, outcome="voicemail") - value(before, outcomes, outcome="voicemail") == 1
    requests = "leadcaller_provider_requests_total"
    assert value(after, requests, provider="voximplant") - value(before, requests, provider="voximplant") == 1


@pytest.mark.django_db
def test_a_lead_that_came_outside_calling_hours_is_observed_apart(api, vox):
    before = scrape(api)
    lead = LeadFactory()
    Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(days=1))
    lead.site.non_calling_dates = (timezone.localdate() - timedelta(days=1)).isoformat()
    lead.site.save()

    pipeline.step_run(step_name="call", lead_id=lead.pk)

    after = scrape(api)
    count = "leadcaller_speed_to_lead_seconds_count"
    assert value(after, count, arrival="out_of_hours") - value(before, count, arrival="out_of_hours") == 1
    assert value(after, count, arrival="in_hours") == value(before, count, arrival="in_hours")


# --- provider errors and retries ---------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(("fault", "kind"), [
    ("http5xx", "server_error"), ("http429", "rate_limited"), ("auth", "permanent"), ("timeout", "timeout"),
])
def test_a_voximplant_error_is_counted_by_kind(api, vox, short_timeouts, django_capture_on_commit_callbacks,
                                                fault, kind):
    vox.fail_next("StartScenarios", fault)
    before = scrape(api)

    with django_capture_on_commit_callbacks(execute=True):
        pipeline.step_run(step_name="call", lead_id=LeadFactory().pk)

    after = scrape(api)
    errors = "leadcaller_provider_errors_total"
    assert value(after, errors, provider="voximplant", kind=kind) - \
        value(before, errors, provider="voximplant", kind=kind) == 1
    retried = value(after, "leadcaller_provider_retries_total", provider="voximplant") - \
        value(before, "leadcaller_provider_retries_total", provider="voximplant")
    assert retried == (0 if kind == "permanent" else 1)


@pytest.mark.django_db
@pytest.mark.parametrize(("fault", "kind"), [
    ("query_limit", "rate_limited"), ("internal", "server_error"), ("insufficient_scope", "permanent"),
])
def test_a_bitrix24_error_is_counted_by_kind(api, b24, fault, kind):
    b24.fail_next("*", fault)
    before = scrape(api)

    pipeline.step_run(step_name="crm", lead_id=LeadFactory().pk)

    after = scrape(api)
    errors = "leadcaller_provider_errors_total"
    assert value(after, errors, provider="bitrix24", kind=kind) - \
        value(before, errors, provider="bitrix24", kind=kind) == 1


@pytest.mark.django_db
def test_an_expired_bitrix24_token_renewed_at_once_is_not_an_error(api, b24_oauth):
    b24_oauth.expire_access_tokens()
    before = scrape(api)

    lead = LeadFactory()
    pipeline.step_run(step_name="crm", lead_id=lead.pk)

    assert Lead.objects.get(pk=lead.pk).bitrix_lead_id is not None
    after = scrape(api)
    errors = "leadcaller_provider_errors_total"
    assert value(after, errors, provider="bitrix24") == value(before, errors, provider="bitrix24")


@pytest.mark.django_db
def test_a_telegram_rate_limit_counts_as_an_error_and_a_retry(api, tg):
    lead = LeadFactory()
    pipeline.step_run(step_name="notify", lead_id=lead.pk)
    note = Notification.objects.get(lead=lead)
    tg.fail_next("sendMessage", "http429")
    before = scrape(api)

    notification_deliver(note.pk)

    after = scrape(api)
    errors, retries = "leadcaller_provider_errors_total", "leadcaller_provider_retries_total"
    assert value(after, errors, provider="telegram", kind="rate_limited") - \
        value(before, errors, provider="telegram", kind="rate_limited") == 1
    assert value(after, retries, provider="telegram") - value(before, retries, provider="telegram") == 1


# --- state from the database and the broker ----------------------------------------------------
@pytest.mark.django_db
def test_leads_in_manual_handling_and_steps_due_are_read_from_the_database(api):
    now = timezone.now()
    LeadFactory(status=Lead.Status.MANUAL, manual_since=now - timedelta(minutes=10))
    LeadFactory(status=Lead.Status.MANUAL, manual_since=now - timedelta(minutes=1))
    LeadFactory(crm_state="running", crm_due_at=now + timedelta(minutes=5))  # a worker has it
    LeadFactory(scheduled_at=now + timedelta(hours=2))  # the call is due later

    families = scrape(api)

    assert value(families, "leadcaller_leads_manual") == 2
    assert value(families, "leadcaller_leads_manual_oldest_seconds") >= 600
    # Four leads were made with every step due now; two of them have a step that is not due.
    assert value(families, "leadcaller_steps_due", step="crm") == 3
    assert value(families, "leadcaller_steps_due", step="call") == 3
    assert value(families, "leadcaller_steps_due", step="notify") == 4


@pytest.mark.django_db
def test_queue_depth_is_read_from_the_broker_per_queue(api):
    from leadcaller.celery import app

    before = scrape(api)
    app.send_task("leads.tasks.crm_step", args=(0,))  # routed to the crm queue; no worker runs here
    try:
        after = scrape(api)
        depth = "leadcaller_queue_messages"
        assert value(after, depth, queue="crm") - value(before, depth, queue="crm") == 1
        assert {s.labels["queue"] for s in after[depth]} == {"call", "crm", "notify", "default"}
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("crm")


# --- several processes -------------------------------------------------------------------------
COUNT_IN_A_CHILD = """
import os, sys
import django
django.setup()
from leadcaller import metrics
for _ in range(int(sys.argv[1])):
    metrics.LEADS_RECEIVED.inc()
metrics.SPEED_TO_LEAD.labels(arrival="in_hours").observe(float(sys.argv[2]))
"""


def _child(folder, *args: str) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadcaller.settings", "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    subprocess.run([sys.executable, "-c", COUNT_IN_A_CHILD, *args], cwd=ROOT, env=env, check=True, timeout=60)


def test_counts_of_several_processes_are_added_up_per_process_group(api, db, settings, tmp_path, monkeypatch):
    settings.METRICS_DIR = tmp_path / "metrics"
    web = multiprocess.group_folder("web")
    web.mkdir(parents=True)
    worker = multiprocess.group_folder("worker-celery@host")
    worker.mkdir()
    _child(web, "2", "0.2")
    _child(web, "3", "0.7")
    _child(worker, "1", "30")
    monkeypatch.setenv(multiprocess.ENV, str(web))  # as in a gunicorn worker: /metrics reads the files

    families = scrape(api)

    received = "leadcaller_leads_received_total"
    assert value(families, received, process_group="web") == 5
    assert value(families, received, process_group="worker-celery@host") == 1
    bucket = "leadcaller_speed_to_lead_seconds_bucket"
    assert value(families, bucket, process_group="web", le="0.5") == 1
    assert value(families, bucket, process_group="web", le="1.0") == 2
    assert value(families, "leadcaller_speed_to_lead_seconds_count", process_group="web") == 2


def test_a_group_starting_again_empties_its_own_folder_and_no_other(settings, tmp_path, monkeypatch):
    settings.METRICS_DIR = tmp_path / "metrics"
    monkeypatch.setenv(multiprocess.ENV, "")  # group_start sets it; put back as it was after the test
    web = multiprocess.group_start("web")
    _child(web, "1", "1")
    worker = multiprocess.group_start("worker-a")
    _child(worker, "1", "1")

    assert multiprocess.group_start("web") == web

    assert list(web.iterdir()) == [] and list(worker.iterdir()) != []
    assert os.environ[multiprocess.ENV] == str(web)


def test_a_real_worker_writes_its_counts_where_metrics_reads_them(celery_worker, settings, tmp_path, vox,
                                                                   monkeypatch):
    metrics_dir = tmp_path / "metrics"
    proc, log_path = celery_worker(
        METRICS_DIR=str(metrics_dir), VOXIMPLANT_API_URL=vox.url, VOXIMPLANT_CREDENTIALS=settings.VOXIMPLANT_CREDENTIALS,
        VOXIMPLANT_RULE_ID="1", VOXIMPLANT_CALLER_ID="74950000000", VOXIMPLANT_CALLBACK_SECRET="test-callback-secret",
        CALLING_HOURS="mon-sun 00:00-24:00", LEAD_LOCAL_HOURS="00:00-24:00", SKIP_HOLIDAYS="false",
    )
    SiteFactory(domain="shop.example")
    from rest_framework.test import APIClient

    assert post_json(APIClient(), {"phone": "+79120001133"}, **ORIGIN).status_code == 201
    assert wait_for(lambda: CallAttempt.objects.filter(status="started").exists()), log_path.read_text()[-3000:]
    settings.METRICS_DIR = metrics_dir
    monkeypatch.setenv(multiprocess.ENV, str(metrics_dir / "web"))  # as in a gunicorn worker on that machine

    families = scrape(APIClient())

    groups = {s.labels.get("process_group") for s in families["leadcaller_provider_requests"]}
    assert any(group.startswith("worker-") for group in groups), groups
    assert value(families, "leadcaller_provider_requests_total", provider="voximplant") == 1
    assert value(families, "leadcaller_speed_to_lead_seconds_count") == 1
    assert "stay private" not in log_path.read_text()


# --- access ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_scrape_from_elsewhere_is_refused_without_the_token(api, settings):
    settings.METRICS_TOKEN = "t0ken-for-prometheus"

    assert api.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    assert api.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert api.get("/metrics", REMOTE_ADDR="203.0.113.9",
                   HTTP_AUTHORIZATION="Bearer t0ken-for-prometheus").status_code == 200


@pytest.mark.django_db
def test_a_local_scrape_needs_no_token_unless_it_came_through_a_proxy(api, settings):
    settings.METRICS_TOKEN = ""

    assert api.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert api.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 403


@pytest.mark.django_db
def test_allowed_networks_come_from_the_setting(api, settings):
    from leadcaller import config

    settings.METRICS_ALLOWED_IPS = config.networks("METRICS_ALLOWED_IPS", ["10.1.0.0/16"])

    assert api.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert api.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_a_malformed_network_stops_start_up_naming_the_variable():
    from django.core.exceptions import ImproperlyConfigured

    from leadcaller import config

    with pytest.raises(ImproperlyConfigured, match="METRICS_ALLOWED_IPS"):
        config.networks("METRICS_ALLOWED_IPS", ["10.1.0.0/16", "not-an-ip"])


FIRST_EVENTS_TOGETHER = """
import threading
from leadcaller import metrics

start, failures = threading.Barrier(16), []

def first_event():
    start.wait()
    try:
        metrics.provider_request("telegram", lambda exc: None).__enter__()
    except Exception as exc:
        failures.append(repr(exc))

threads = [threading.Thread(target=first_event) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(failures)
"""


def test_the_first_events_of_a_thread_pool_all_count():
    """The worker line runs a thread pool: its first tasks meet the metrics together, and none fails
    for it (registering a metric twice raises in the middle of the task)."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run([sys.executable, "-c", FIRST_EVENTS_TOGETHER], cwd=ROOT, env=env, capture_output=True,
                          check=False, text=True, timeout=60)

    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
