"""The CRM step's claimer (issue 15): due work taken in batches by one task, not a task per lead per try."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.utils import timezone

from leads import bitrix, bitrix_limits, crm, pipeline
from leads.models import Lead, LeadEvent
from tests.conftest import run_together
from tests.factories import LeadFactory
from tests.leads.conftest import in_bitrix_with_a_finished_call

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("write_backs_at_once")]
State = Lead.StepState


def due_now(n: int) -> list[Lead]:
    now = timezone.now()
    return [LeadFactory(crm_due_at=now, call_state=State.DONE, notify_state=State.DONE) for _ in range(n)]


def test_a_burst_of_60_leads_reaches_bitrix24_in_two_batches_from_one_claimer(b24, sent):
    leads = due_now(60)

    assert crm.crm_claim_run() == 2

    batches = [r for r in b24.requests if r.method == "batch"]
    assert len(batches) == 2 and len(b24.requests) == 2
    assert {lead.bitrix_lead_id is not None for lead in Lead.objects.filter(pk__in=[x.pk for x in leads])} == {True}
    assert sent == []  # nothing due is left: no next claimer


def test_kicks_for_leads_due_together_send_one_claimer(sent):
    step = pipeline.STEPS["crm"]
    for _ in range(20):  # twenty leads accepted in the same second
        pipeline.lead_dispatch(LeadFactory().pk, steps=["crm"])
    pipeline.claimer_kick(step, countdown=0.5)  # due a moment later: the coming claimer takes it too

    assert sent == [("leads.tasks.crm_claim", (), None)]


def test_a_sooner_kick_sends_a_claimer_of_its_own_and_a_later_one_does_not(sent):
    step = pipeline.STEPS["crm"]
    assert pipeline.claimer_kick(step, countdown=60) is True
    assert pipeline.claimer_kick(step, countdown=0) is True  # the one on its way comes in a minute: too late
    assert pipeline.claimer_kick(step, countdown=30) is False  # one comes now, and sees this lead due by then

    assert [countdown for _, _, countdown in sent] == [60, None]


def test_a_kick_that_finds_a_claimer_coming_reads_the_cache_once_and_writes_nothing(sent, monkeypatch):
    step = pipeline.STEPS["notify"]
    pipeline.claimer_kick(step)
    calls = _cache_calls(monkeypatch)

    assert pipeline.claimer_kick(step) is False
    assert calls == ["get"] and len(sent) == 1


def test_kicks_for_a_claimer_due_later_ask_redis_nothing_until_shortly_before_it_comes(sent, monkeypatch):
    """A gathering step (a CRM write-back, a card): the process that sent the claimer knows it is coming."""
    step = pipeline.STEPS["crm"]
    clock = [1_000_000.0]
    monkeypatch.setattr(pipeline.time, "time", lambda: clock[0])
    assert pipeline.claimer_kick(step, countdown=5) is True
    calls = _cache_calls(monkeypatch)

    clock[0] += 4.5  # 0.5 s before it is due: it has not started, and will see whatever is committed now
    assert pipeline.claimer_kick(step, countdown=5) is False
    assert calls == [] and len(sent) == 1
    clock[0] += 0.4  # as good as due (another host's clock, an early timer): the cache is asked again
    assert pipeline.claimer_kick(step, countdown=5) is False
    assert calls == ["get"] and len(sent) == 1
    assert pipeline.claimer_kick(step, countdown=0) is False  # the cache's note covers it too
    clock[0] += 1.0  # started by now: what the process knew says nothing any more
    assert pipeline.claimer_kick(step, countdown=0) is False
    assert calls == ["get", "get", "get"]


def test_a_kick_for_sooner_work_than_the_known_claimer_sends_one(sent, monkeypatch):
    step = pipeline.STEPS["crm"]
    assert pipeline.claimer_kick(step, countdown=30) is True
    calls = _cache_calls(monkeypatch)

    assert pipeline.claimer_kick(step, countdown=5) is True  # the known one comes 25 s too late for this lead
    assert calls[0] == "get" and [countdown for _, _, countdown in sent] == [30, 5]
    calls.clear()
    assert pipeline.claimer_kick(step, countdown=5) is False  # the sooner one is known now
    assert calls == []


def test_a_claimer_that_the_broker_refused_is_not_counted_on(monkeypatch):
    step = pipeline.STEPS["notify"]

    def refused(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(pipeline.current_app, "send_task", refused)
    assert pipeline.claimer_kick(step, countdown=5) is False
    sent: list[str] = []
    monkeypatch.setattr(pipeline.current_app, "send_task", lambda name, **kwargs: sent.append(name))
    assert pipeline.claimer_kick(step, countdown=5) is True
    assert sent == ["notifications.tasks.notify_claim"]


def _cache_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    default = caches["default"]
    for name in ("get", "add", "set"):
        monkeypatch.setattr(default, name, _noting(calls, name, getattr(default, name)))
    return calls


def _noting(calls: list[str], name: str, method):
    def noted(*args, **kwargs):
        calls.append(name)
        return method(*args, **kwargs)
    return noted


def test_leads_deferred_for_the_rate_limit_wait_on_their_rows_and_one_claimer_comes_for_them(b24, sent, settings):
    settings.BITRIX_REQUESTS_PER_SECOND, settings.BITRIX_BURST = 0.1, 1  # room for one request now, then 10 s
    due_now(60)

    crm.crm_claim_run()

    held = Lead.objects.filter(bitrix_lead_id=None)
    assert len(b24.requests) == 1 and held.count() == 10  # one batch of 50; ten wait for the next token
    assert {lead.crm_state for lead in held} == {State.PENDING} and {lead.crm_tries for lead in held} == {0}
    assert min(lead.crm_due_at for lead in held) > timezone.now()
    [(name, args, countdown)] = sent  # one claimer for all ten, when the portal has room again
    assert name == "leads.tasks.crm_claim" and args == () and 0 < countdown <= 15


def token_taken_elsewhere(settings) -> None:
    """Our share of the portal's rate holds one token, and another worker has just taken it: the next
    comes in half a second, longer than a request waits for it outside a claimer."""
    settings.BITRIX_REQUESTS_PER_SECOND, settings.BITRIX_BURST = 2.0, 1
    client = bitrix.client_from_settings()
    assert bitrix_limits.wait_to_send(client.portal_key, ["batch"]) == 0.0
    assert bitrix_limits.wait_to_send(client.portal_key, ["batch"]) > bitrix.MAX_INLINE_WAIT


def test_a_claimer_waits_for_a_token_due_within_a_moment_instead_of_deferring_its_batch(b24, sent, settings):
    """It used to claim, find no token and defer the whole batch: in a long burst, about ten claims per lead."""
    token_taken_elsewhere(settings)
    leads = due_now(10)

    assert crm.crm_claim_run() == 1

    assert [r.method for r in b24.requests] == ["batch"]
    assert Lead.objects.filter(pk__in=[lead.pk for lead in leads], crm_state=State.DONE,
                               bitrix_lead_id__isnull=False).count() == 10
    assert sent == []  # nothing was deferred: no claimer to come back for it


def test_write_backs_that_come_due_while_a_claimer_waits_for_its_token_ride_in_its_batch(b24, sent, settings):
    """The claimer waits for its token before it claims, so a trickle of call results fills one batch."""
    leads = due_now(7)
    in_bitrix_with_a_finished_call(leads)
    Lead.objects.filter(pk__in=[lead.pk for lead in leads[3:]]).update(
        crm_due_at=timezone.now() + timezone.timedelta(seconds=0.3))  # four results come a moment later
    adds = len(b24.requests)
    token_taken_elsewhere(settings)

    assert crm.crm_claim_run() == 1  # one claim

    [write_back] = b24.requests[adds:]
    assert write_back.method == "batch"
    assert Lead.objects.filter(pk__in=[lead.pk for lead in leads], crm_synced_attempt=1).count() == 7


@pytest.mark.django_db(transaction=True)
def test_two_claimers_at_once_share_the_tokens_and_defer_nothing(b24, sent, settings):
    token_taken_elsewhere(settings)
    leads = due_now(60)

    run_together(crm.crm_claim_run, crm.crm_claim_run)

    assert len([r for r in b24.requests if r.method == "batch"]) == 2
    assert Lead.objects.filter(pk__in=[lead.pk for lead in leads], crm_state=State.DONE).count() == 60
    # Nothing deferred, so no claimer kicked to come back for it; the claimer that ends first may kick one
    # for the other's lease end (in case that run dies).
    assert [countdown for _, _, countdown in sent if not countdown or countdown < 60] == []


def test_the_sweeper_kicks_one_claimer_for_all_due_crm_work(sent):
    past = timezone.now() - timezone.timedelta(minutes=10)
    for _ in range(5):
        LeadFactory(crm_due_at=past, crm_queued_at=past, call_state=State.DONE, notify_state=State.DONE)

    assert pipeline.dispatch_due() == 1
    assert sent == [("leads.tasks.crm_claim", (), None)]


def test_a_lead_outside_calling_hours_goes_to_bitrix24_with_the_others(b24, sent):
    """Its call waits for the morning; its CRM step does not."""
    now = timezone.now()
    tomorrow = now + timezone.timedelta(hours=12)
    night = LeadFactory(crm_due_at=now, scheduled_at=tomorrow, status=Lead.Status.SCHEDULED, notify_state=State.DONE)
    day = due_now(3)

    crm.crm_claim_run()

    night.refresh_from_db()
    assert night.bitrix_lead_id is not None and night.crm_state == State.DONE
    assert night.call_state == State.PENDING and night.scheduled_at == tomorrow
    assert len(b24.requests) == 1 and all(Lead.objects.get(pk=lead.pk).bitrix_lead_id for lead in day)


def test_the_sweeper_kicks_a_claimer_at_once_for_a_crm_run_that_died(sent):
    """Its lease has ended: no claimer is coming for it, whatever the last kick said (the claimer it
    sent died with the same worker)."""
    pipeline.claimer_kick(pipeline.STEPS["crm"], countdown=5)
    sent.clear()
    LeadFactory(crm_state=State.RUNNING, crm_due_at=timezone.now(), call_state=State.DONE, notify_state=State.DONE)

    assert pipeline.dispatch_due() == 1
    assert sent == [("leads.tasks.crm_claim", (), None)]


def claimer_statements(n: int, *, prepare=None) -> int:
    """SQL statements one claimer run sends for `n` due leads (one batch)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    leads = due_now(n)
    if prepare:
        prepare(leads)
    with CaptureQueriesContext(connection) as queries:
        assert crm.crm_claim_run() == 1
    return len([q for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")])


def rate_rows_written(prepare=None) -> None:
    """One claim first: without Redis the rate limiter's rows are created by the first request of each
    method to the portal (statements paid once, whatever the batch's size)."""
    claimer_statements(1, prepare=prepare)
    Lead.objects.all().delete()


def test_a_batch_of_adds_costs_the_same_statements_for_40_leads_as_for_10(b24, sent):
    """Claimed, adopted and recorded (with their timeline entries and cards) together: the database work
    of a batch does not grow with its size. It used to be six statements more per lead."""
    rate_rows_written()
    few = claimer_statements(10)
    Lead.objects.all().delete()

    assert claimer_statements(40) == few
    assert Lead.objects.filter(crm_state=State.DONE, bitrix_lead_id__isnull=False).count() == 40
    assert LeadEvent.objects.filter(kind=LeadEvent.Kind.STEP_DONE, step="crm").count() == 40


def test_a_batch_of_write_backs_costs_the_same_statements_for_40_leads_as_for_10(b24, sent):
    rate_rows_written(prepare=in_bitrix_with_a_finished_call)
    few = claimer_statements(10, prepare=in_bitrix_with_a_finished_call)
    Lead.objects.all().delete()

    assert claimer_statements(40, prepare=in_bitrix_with_a_finished_call) == few
    assert Lead.objects.filter(crm_state=State.DONE, crm_synced_attempt=1).count() == 40

