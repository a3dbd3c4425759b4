"""Drill: the broker's Redis stops while leads arrive. Web, worker and beat run on a private Redis;
the drill stops it by its process id, keeps posting, starts it again on the same port, and every
lead must be stored at once and processed once Redis is back (the sweeper sends what was missed)."""

from __future__ import annotations

import pytest
import requests

from leads.models import Lead
from tests.conftest import wait_for
from tests.drills.report import all_processed, one_crm_lead_per_origin, report, starts_per_attempt, states
from tests.factories import SiteFactory

pytestmark = [pytest.mark.drill]


def test_leads_posted_while_redis_is_down_are_stored_at_once_and_processed_when_it_is_back(
        drill_env, providers, processes):
    SiteFactory(domain="shop.example")
    redis = processes.redis()
    web = processes.web({**drill_env, **providers.env, "CELERY_BROKER_URL": redis.url})
    # The worker hands the scenario PUBLIC_BASE_URL: the simulated call reports to this web process.
    env = {**drill_env, **providers.env, "CELERY_BROKER_URL": redis.url, "PUBLIC_BASE_URL": web.url}
    processes.worker(env)
    processes.beat(env)
    phones = [f"+7912300{n:04d}" for n in range(15)]

    before, during, after = phones[:4], phones[4:12], phones[12:]
    answers = [web.post_lead(phone).status_code for phone in before]
    redis.stop()
    answers += [web.post_lead(phone).status_code for phone in during]
    stored_while_down = Lead.objects.filter(phone__in=during).count()
    health_while_down = requests.get(f"{web.url}/healthz", timeout=30).json()["checks"]
    redis.start()
    # Celery's Redis transport may crash the worker when Redis goes away (an "unrecoverable error"
    # in kombu), and its shutdown may take a while; in production the process supervisor restarts it
    # whenever it exits, and so does the drill.
    revived = processes.revive()
    answers += [web.post_lead(phone).status_code for phone in after]

    def supervised_and_processed() -> bool:
        revived.extend(processes.revive())
        return all_processed(phones)

    # Messages still in Redis when it stopped are gone (no persistence here): the sweeper sends
    # those steps again once their message is a minute old (REQUEUE_AFTER).
    finished = wait_for(supervised_and_processed, timeout=150, interval=0.5)
    tally = report("redis-down", phones)
    print(f"restarted after the outage: {', '.join(revived) or 'nothing'}")
    assert finished, f"{states(phones)}\n{processes.logs()}"
    assert answers == [201] * len(phones)
    assert stored_while_down == len(during)
    assert health_while_down["broker"].startswith("error") and health_while_down["database"] == "ok"
    assert tally.lost == 0 and tally.stored == tally.sent == len(phones)
    assert set(Lead.objects.filter(phone__in=phones).values_list("status", flat=True)) == {Lead.Status.REACHED}
    assert set(starts_per_attempt(providers.vox).values()) == {1}
    assert len(starts_per_attempt(providers.vox)) == len(phones)
    assert one_crm_lead_per_origin(providers.b24) and len(providers.b24.leads) == len(phones)
