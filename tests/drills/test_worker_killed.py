"""Drill: the worker is killed (SIGKILL) while VoxImplant and Bitrix24 hold their answers, so the
call was started and the CRM lead created but the worker never heard it. After a restart each step
is redone once, and nothing is sent twice: one StartScenarios per attempt, one Bitrix24 lead each."""

from __future__ import annotations

import signal

import pytest
from celery import current_app
from django.utils import timezone

from leads.models import Lead
from tests.conftest import wait_for
from tests.drills import servers
from tests.drills.report import all_processed, one_crm_lead_per_origin, report, starts_per_attempt, states
from tests.factories import SiteFactory

pytestmark = [pytest.mark.drill, pytest.mark.broker]

RUNNING, PENDING = Lead.StepState.RUNNING, Lead.StepState.PENDING


def leases_run_out(phones: list[str]) -> None:
    """What five minutes would do: the leases of the killed worker's steps end, and their messages
    count as stale, so the sweeper sends those steps again."""
    leads = Lead.objects.filter(phone__in=phones)
    now, long_ago = timezone.now(), timezone.now() - timezone.timedelta(minutes=10)
    leads.filter(call_state=RUNNING).update(scheduled_at=now, call_queued_at=long_ago)
    leads.filter(crm_state=RUNNING).update(crm_due_at=now, crm_queued_at=long_ago)
    leads.filter(notify_state=RUNNING).update(notify_due_at=now, notify_queued_at=long_ago)
    # A claimer's message that died with the worker unrun: its steps wait, past the time a claimer takes.
    leads.filter(crm_state=PENDING).update(crm_due_at=long_ago)
    leads.filter(notify_state=PENDING).update(notify_due_at=long_ago)


def test_a_worker_killed_mid_request_redoes_each_step_once_without_a_second_call_or_crm_lead(
        drill_env, providers, processes):
    SiteFactory(domain="shop.example")
    web = processes.web({**drill_env, **providers.env})
    env = {**drill_env, **providers.env, "PUBLIC_BASE_URL": web.url}
    phones = [f"+7912400{n:04d}" for n in range(3)]
    providers.vox.timeout_delay = providers.b24.timeout_delay = 60  # held until the fakes stop
    providers.vox.scenario_delay = 8  # the person answers after the restart
    providers.vox.fail_next("StartScenarios", "timeout", times=len(phones))
    providers.b24.fail_next("*", "timeout", times=1)
    worker = processes.worker(env)

    assert [web.post_lead(phone).status_code for phone in phones] == [201] * len(phones)
    held = wait_for(lambda: len(providers.vox.sessions) == len(phones) and providers.b24.leads and any(
        r.fault == "timeout" and r.status is None for r in providers.b24.requests), timeout=60)
    assert held, f"{states(phones)}\n{processes.logs()}"
    servers.stop_pid(worker, signal.SIGKILL)

    processes.worker(env)
    leases_run_out(phones)
    current_app.send_task("leads.tasks.dispatch_due")

    finished = wait_for(lambda: all_processed(phones), timeout=90, interval=0.5)
    tally = report("worker-killed", phones)
    assert finished, f"{states(phones)}\n{processes.logs()}"
    assert tally.lost == 0
    assert set(Lead.objects.filter(phone__in=phones).values_list("status", flat=True)) == {Lead.Status.REACHED}
    # Each step was redone: the calls looked up in the call history, the held add found by ORIGIN_ID.
    assert len([r for r in providers.vox.requests if r.cmd == "GetCallHistory"]) >= len(phones)
    assert any(r.method == "crm.lead.list" for r in providers.b24.requests)
    assert sorted(starts_per_attempt(providers.vox).values()) == [1] * len(phones)
    assert one_crm_lead_per_origin(providers.b24) and len(providers.b24.leads) == len(phones)
    assert Lead.objects.filter(phone__in=phones, bitrix_lead_id__isnull=False).count() == len(phones)
