"""Drill: every provider is down for the whole drill, each in one of three ways: the connection is
refused (nothing listens), it answers 5xx, or it is slower than our timeout. Three rounds cover each
provider in each way. The leads wait and retry, then go to manual handling; none is lost, and no
request that may have gone through is sent twice."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from leads.models import Lead, LeadEvent
from notifications.models import Notification
from tests.conftest import wait_for
from tests.drills import servers
from tests.drills.report import all_processed, one_crm_lead_per_origin, report, starts_per_attempt, states
from tests.factories import SiteFactory

pytestmark = [pytest.mark.drill]

SERVER_ERROR = {"vox": "http5xx", "b24": "bad_gateway", "tg": "http5xx"}
URL_SETTING = {"vox": "VOXIMPLANT_API_URL", "b24": "BITRIX_WEBHOOK_URL", "tg": "TELEGRAM_API_URL"}
ROUNDS = [
    {"vox": "refused", "b24": "5xx", "tg": "slow"},
    {"vox": "5xx", "b24": "slow", "tg": "refused"},
    {"vox": "slow", "b24": "refused", "tg": "5xx"},
]


def break_providers(providers, modes: dict[str, str]) -> dict[str, str]:
    """Put each fake into its mode; returns the environment changes (a refused one's URL points
    at a port where nothing listens)."""
    env = {"PROVIDER_TIMEOUT": "0.5"}
    providers.vox.policy = None  # a call started by a late request must not report: nobody answers
    for name, mode in modes.items():
        fake = getattr(providers, name)
        if mode == "refused":
            closed = f"127.0.0.1:{servers.spare_port()}"
            env[URL_SETTING[name]] = providers.env[URL_SETTING[name]].replace(f"127.0.0.1:{fake.port}", closed)
        elif mode == "5xx":
            fake.fail_next("*", SERVER_ERROR[name], times=10_000)
        else:
            fake.latency = 2.0
    return env


def cards_settled(phones: list[str]) -> bool:
    """The seller's cards (alone or in a digest) have been sent or given up. The manual-handling
    alerts keep retrying behind them, paced by the chat's rate limit: not waited for."""
    cards = Notification.objects.filter(lead__phone__in=phones, kind=Notification.Kind.CARD)
    open_states = ["pending", "sending"]
    return not (cards.filter(status__in=open_states).exists()
                or Notification.objects.filter(cards__in=cards, status__in=open_states).exists())


@pytest.mark.parametrize("modes", ROUNDS, ids=["-".join(f"{k}_{v}" for k, v in r.items()) for r in ROUNDS])
def test_leads_wait_and_retry_while_providers_are_down_then_go_to_manual_handling_and_none_is_lost(
        drill_env, providers, processes, modes):
    SiteFactory(domain="shop.example")
    env = {**drill_env, **providers.env}
    env.update(break_providers(providers, modes))
    processes.worker(env)
    processes.beat(env)  # its sweepers take up what a task left (as in production)
    phones = [f"+7912500{n:04d}" for n in range(3)]

    api = APIClient()
    answers = [api.post("/api/v1/leads/", {"phone": phone}, format="json", HTTP_ORIGIN="https://shop.example")
               .status_code for phone in phones]

    # A try that may have reached Telegram (a timeout) takes a turn of the group's share (13 a minute after
    # a burst of 6: notifications/services.py): giving up on every card can take a minute or two.
    finished = wait_for(lambda: all_processed(phones) and cards_settled(phones), timeout=150, interval=0.5)
    tally = report("providers-down " + ", ".join(f"{k} {v}" for k, v in modes.items()), phones)
    assert finished, f"{states(phones)}\n{processes.logs()}"
    assert answers == [201] * len(phones)
    assert tally.lost == 0 and tally.manual == tally.sent
    leads = Lead.objects.filter(phone__in=phones)
    assert set(leads.values_list("call_state", "crm_state")) == {("failed", "failed")}
    for step in ("call", "crm"):  # they waited and retried before giving up
        retried = LeadEvent.objects.filter(lead__in=leads, step=step, kind=LeadEvent.Kind.STEP_RETRY)
        assert retried.values("lead").distinct().count() == len(phones)
    assert set(starts_per_attempt(providers.vox).values()) <= {1}
    assert one_crm_lead_per_origin(providers.b24)
    cards = Notification.objects.filter(lead__in=leads, kind=Notification.Kind.CARD)
    assert cards.count() == len(phones)
    # Each card failed after its retries, alone or in a digest for the chat (a burst of cards).
    assert set(cards.values_list("status", flat=True)) <= {"failed", "digested"}
    assert not Notification.objects.filter(cards__in=cards).exclude(status="failed").exists()
