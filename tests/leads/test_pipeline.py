"""The pipeline: dispatch after commit, claiming, outcomes, fencing, retries, the sweeper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery import current_app
from django.utils import timezone

from leads import pipeline
from leads.models import Lead, LeadEvent
from tests.conftest import post_json
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
State = Lead.StepState


@pytest.fixture
def step_handler(monkeypatch):
    """Swap the crm step's handler for one the test scripts."""
    outcomes: list = []

    def install(*results):
        outcomes.extend(results)
        monkeypatch.setitem(pipeline.STEPS, "crm", pipeline.Step(
            "crm", "crm_due_at", f"{__name__}.scripted_handler", "leads.tasks.crm_step",
            lease=timedelta(minutes=5), max_tries=3))
        monkeypatch.setattr(f"{__name__}._SCRIPT", outcomes)
    return install


_SCRIPT: list = []


def scripted_handler(lead):
    result = _SCRIPT.pop(0)
    if isinstance(result, Exception):
        raise result
    return result(lead) if callable(result) else result


def test_intake_hands_every_step_to_the_broker_only_after_commit(api, site, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post_json(api, {"phone": "+79120001122"}, HTTP_ORIGIN="https://shop.example")
        assert sent == []
    for callback in callbacks:
        callback()

    lead = Lead.objects.get()
    assert sorted(sent) == sorted([
        ("leads.tasks.crm_claim", (), None),  # the CRM step's claimer takes it, with every other lead due
        ("telephony.tasks.call_step", (lead.pk,), None),
        # So is the notify step's, a second later: a card waits that long to go with the leads beside it.
        ("notifications.tasks.notify_claim", (), pipeline.STEPS["notify"].gather),
    ])


def test_each_step_is_routed_to_its_own_queue():
    router = current_app.amqp.router
    queues = {name: router.route({}, name)["queue"].name
              for name in ("telephony.tasks.call_step", "leads.tasks.crm_step", "leads.tasks.crm_claim",
                           "notifications.tasks.notify_step", "notifications.tasks.notify_claim")}

    assert queues == {"telephony.tasks.call_step": "call", "leads.tasks.crm_step": "crm", "leads.tasks.crm_claim": "crm",
                      "notifications.tasks.notify_step": "notify", "notifications.tasks.notify_claim": "notify"}


def test_broker_refusing_a_message_leaves_the_step_for_the_sweeper(monkeypatch):
    lead = LeadFactory()

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(current_app, "send_task", refuse)
    pipeline.lead_dispatch(lead.pk)

    lead.refresh_from_db()
    assert lead.call_queued_at is None
    # The CRM and notify steps have no message of their own: they stay due, and the sweeper kicks their claimers.
    assert lead.crm_state == State.PENDING and lead.crm_due_at <= timezone.now()
    assert lead.notify_state == State.PENDING and lead.notify_due_at <= timezone.now()


def test_unconfigured_pipeline_skips_crm_and_notify_and_sends_the_call_to_manual_handling():
    lead = LeadFactory()
    for step in ("crm", "call", "notify"):
        pipeline.step_run(step_name=step, lead_id=lead.pk)

    lead.refresh_from_db()
    assert (lead.crm_state, lead.call_state, lead.notify_state) == (State.SKIPPED, State.FAILED, State.SKIPPED)
    assert lead.status == Lead.Status.MANUAL
    assert "not configured" in lead.manual_reason
    kinds = list(lead.events.values_list("step", "kind"))
    assert ("call", LeadEvent.Kind.MANUAL) in kinds and ("crm", LeadEvent.Kind.STEP_SKIPPED) in kinds


def test_a_redelivered_task_does_nothing_the_second_time():
    lead = LeadFactory()
    pipeline.step_run(step_name="call", lead_id=lead.pk)
    pipeline.step_run(step_name="call", lead_id=lead.pk)

    lead.refresh_from_db()
    assert lead.call_tries == 1
    assert lead.events.filter(kind=LeadEvent.Kind.MANUAL).count() == 1


def test_a_crm_step_running_while_the_next_call_waits_leaves_the_lead_scheduled(step_handler):
    step_handler(pipeline.Done("written back"))
    lead = LeadFactory(status=Lead.Status.SCHEDULED, scheduled_at=timezone.now() + timedelta(minutes=20))
    pipeline.step_run(step_name="crm", lead_id=lead.pk)

    lead.refresh_from_db()
    assert (lead.status, lead.crm_state) == (Lead.Status.SCHEDULED, State.DONE)


def test_claiming_the_due_call_brings_a_scheduled_lead_back_in_progress():
    lead = LeadFactory(status=Lead.Status.SCHEDULED, scheduled_at=timezone.now())

    assert pipeline.step_claim(step_name="call", lead_id=lead.pk) is not None
    lead.refresh_from_db()
    assert (lead.status, lead.call_state) == (Lead.Status.IN_PROGRESS, State.RUNNING)


def test_step_not_yet_due_is_not_run():
    lead = LeadFactory(scheduled_at=timezone.now() + timedelta(hours=1))
    pipeline.step_run(step_name="call", lead_id=lead.pk)

    lead.refresh_from_db()
    assert (lead.call_state, lead.call_tries) == (State.PENDING, 0)


def test_retry_sets_a_backed_off_due_time_and_sends_short_ones_as_countdown(step_handler, sent,
                                                                          django_capture_on_commit_callbacks):
    step_handler(pipeline.Retry("Bitrix24 answered 503"))
    lead = LeadFactory()
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.step_run(step_name="crm", lead_id=lead.pk)

    lead.refresh_from_db()
    assert lead.crm_state == State.PENDING
    delay = (lead.crm_due_at - timezone.now()).total_seconds()
    assert 0 < delay <= 5
    assert sent and sent[0][0] == "leads.tasks.crm_step" and 0 < sent[0][2] <= 5
    assert lead.events.get(kind=LeadEvent.Kind.STEP_RETRY).message.startswith("Bitrix24 answered 503")


def test_backoff_grows_and_is_capped():
    step = pipeline.STEPS["crm"]
    ceilings = [max(pipeline.backoff(step, tries).total_seconds() for _ in range(50)) for tries in (1, 3, 6, 20)]

    assert ceilings[0] <= 5 < ceilings[1] <= 20 < ceilings[2] <= 160
    assert step.backoff_cap / 2 <= ceilings[3] <= step.backoff_cap


def test_retries_run_out_into_manual_handling_with_the_reason(step_handler):
    step_handler(RuntimeError("boom"), pipeline.Retry("timeout"), pipeline.Retry("timeout again"))
    lead = LeadFactory()
    for _ in range(3):
        Lead.objects.filter(pk=lead.pk).update(crm_due_at=timezone.now())
        pipeline.step_run(step_name="crm", lead_id=lead.pk)

    lead.refresh_from_db()
    assert (lead.crm_state, lead.crm_tries, lead.status) == (State.FAILED, 3, Lead.Status.MANUAL)
    assert lead.manual_reason == "timeout again (gave up after 3 tries)"
    assert lead.events.filter(kind=LeadEvent.Kind.STEP_RETRY).first().message.startswith("RuntimeError: boom")


def test_a_worker_whose_lease_was_taken_over_cannot_overwrite_the_result(step_handler):
    lead = LeadFactory()

    def first_worker_stalls(_lead):
        # While this worker hangs, its lease ends; a second worker takes the step and finishes it.
        Lead.objects.filter(pk=lead.pk).update(crm_due_at=timezone.now())
        pipeline.step_run(step_name="crm", lead_id=lead.pk)
        return pipeline.Manual("late answer of the first worker")

    step_handler(first_worker_stalls, pipeline.Done("created by the second worker"))
    pipeline.step_run(step_name="crm", lead_id=lead.pk)

    lead.refresh_from_db()
    assert (lead.crm_state, lead.crm_tries, lead.status) == (State.DONE, 2, Lead.Status.IN_PROGRESS)
    assert not lead.events.filter(kind=LeadEvent.Kind.MANUAL).exists()


def test_a_batchs_deferrals_for_one_wait_are_recorded_together_untried_except_one_taken_over(
        django_capture_on_commit_callbacks):
    """A claimer's batch that the rate limit held back: one UPDATE for the group, the try each claim counted
    given back, no timeline entry, one kick of the claimer for when they are due (it used to be a
    statement, a card refresh and a kick per lead)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    leads = [LeadFactory(crm_due_at=timezone.now(), crm_tries=1) for _ in range(4)]
    claimed = pipeline.step_claim_more(step_name="crm", limit=10)
    Lead.objects.filter(pk=leads[0].pk).update(crm_due_at=timezone.now())  # its lease ended...
    assert pipeline.step_claim(step_name="crm", lead_id=leads[0].pk)  # ...and another run took it
    rows = Lead.objects.in_bulk([lead.pk for lead in leads])
    wait = pipeline.Defer(timedelta(seconds=7), "no room in Bitrix24's limits yet")

    with django_capture_on_commit_callbacks() as after_commit, CaptureQueriesContext(connection) as queries:
        recorded = pipeline.step_outcomes_apply(step_name="crm", results=[
            (rows[pk], wait, fence) for pk, fence in claimed])

    assert recorded == {lead.pk for lead in leads[1:]}
    assert len([q for q in queries if q["sql"].startswith('UPDATE "leads_lead"')]) == 1
    assert len(after_commit) == 1
    stored = Lead.objects.in_bulk([lead.pk for lead in leads])
    assert [(stored[lead.pk].crm_state, stored[lead.pk].crm_tries) for lead in leads] == [
        (State.RUNNING, 3), (State.PENDING, 1), (State.PENDING, 1), (State.PENDING, 1)]
    assert all(rows[lead.pk].crm_tries == 1 and rows[lead.pk].crm_state == State.PENDING for lead in leads[1:])
    due = timezone.now() + timedelta(seconds=7)
    assert all(abs(stored[lead.pk].crm_due_at - due) < timedelta(seconds=2) for lead in leads[1:])
    assert not LeadEvent.objects.filter(lead__in=leads).exists()


def test_a_batch_claimed_together_is_recorded_together_except_a_lead_taken_over_meanwhile():
    """A claimer's batch: one lease for all; its results recorded in one go, with a timeline entry each,
    and a lead whose lease ran out and was taken by another run keeps that run's result."""
    leads = [LeadFactory(crm_due_at=timezone.now()) for _ in range(3)]
    claimed = pipeline.step_claim_more(step_name="crm", limit=10)
    assert sorted(pk for pk, _ in claimed) == sorted(lead.pk for lead in leads)
    assert len({fence for _, fence in claimed}) == 1
    assert pipeline.step_claim_more(step_name="crm", limit=10) == []  # all running now
    taken_over = leads[0]
    Lead.objects.filter(pk=taken_over.pk).update(crm_due_at=timezone.now())  # its lease ended...
    assert pipeline.step_claim(step_name="crm", lead_id=taken_over.pk)  # ...and another run took it
    fence = claimed[0][1]
    rows = Lead.objects.in_bulk([lead.pk for lead in leads])

    recorded = pipeline.step_outcomes_apply(step_name="crm", results=[
        (rows[lead.pk], pipeline.Done(f"in the CRM as {lead.pk}"), fence) for lead in leads])

    assert recorded == {leads[1].pk, leads[2].pk}
    assert {lead.pk: lead.crm_state for lead in Lead.objects.filter(pk__in=rows)} == {
        leads[0].pk: State.RUNNING, leads[1].pk: State.DONE, leads[2].pk: State.DONE}
    assert sorted(LeadEvent.objects.filter(kind=LeadEvent.Kind.STEP_DONE).values_list("message", flat=True)) == sorted(
        f"in the CRM as {lead.pk}" for lead in leads[1:])


# --- the sweeper ------------------------------------------------------------------------------
def _long_ago():
    return timezone.now() - timedelta(minutes=10)


def test_sweeper_sends_steps_that_are_due_and_were_never_queued(sent):
    lead = LeadFactory(crm_queued_at=None, call_queued_at=None, notify_queued_at=None)

    assert pipeline.dispatch_due() == 1
    assert {name for name, args, _ in sent if args == (lead.pk,)} == {"telephony.tasks.call_step"}
    # Just due, the CRM and notify steps are their coming claimers' (kicked at intake), not yet the sweeper's.


def test_sweeper_leaves_freshly_queued_steps_alone(sent):
    LeadFactory()  # queued just now by intake

    assert pipeline.dispatch_due() == 0


def test_sweeper_resends_a_message_that_was_never_picked_up(sent):
    lead = LeadFactory(call_queued_at=_long_ago(), scheduled_at=_long_ago(),
                       crm_state=State.DONE, notify_state=State.DONE)

    assert pipeline.dispatch_due() == 1
    assert sent == [("telephony.tasks.call_step", (lead.pk,), None)]
    assert pipeline.dispatch_due() == 0  # marked as queued: not sent again at the next tick


def test_sweeper_takes_back_a_step_whose_worker_died(sent):
    lead = LeadFactory(call_state=State.RUNNING, scheduled_at=timezone.now() - timedelta(seconds=1),
                       call_queued_at=_long_ago(), crm_state=State.DONE, notify_state=State.DONE, call_tries=1)
    pipeline.dispatch_due()
    pipeline.step_run(step_name="call", lead_id=lead.pk)

    lead.refresh_from_db()
    assert sent == [("telephony.tasks.call_step", (lead.pk,), None)]
    assert (lead.call_tries, lead.call_state) == (2, State.FAILED)


@pytest.mark.parametrize("state, due_in", [
    (State.RUNNING, timedelta(seconds=20)),  # lease still on
    (State.PENDING, timedelta(hours=3)),  # outside calling hours, later
    (State.DONE, None),
])
def test_sweeper_does_not_send_steps_that_are_not_due(sent, state, due_in):
    due = timezone.now() + due_in if due_in is not None else None  # now, not when the tests were collected
    LeadFactory(call_queued_at=_long_ago(), crm_state=State.DONE, notify_state=State.DONE, call_state=state,
                scheduled_at=due)

    assert pipeline.dispatch_due() == 0


def test_a_call_whose_worker_died_is_sent_again_as_soon_as_its_lease_ends(sent):
    """Its message went out seconds before the claim (not stale by age): the lease's end alone says the
    task died. Sent once, not at every tick after."""
    queued = timezone.now() - timedelta(seconds=20)
    lead = LeadFactory(call_queued_at=queued, scheduled_at=queued, crm_state=State.DONE, notify_state=State.DONE)
    fence = pipeline.step_claim(step_name="call", lead_id=lead.pk)
    assert fence - timezone.now() <= pipeline.STEPS["call"].lease

    assert pipeline.dispatch_due() == 0  # the run may still be going
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))  # the lease ended
    assert pipeline.dispatch_due() == 1
    assert pipeline.dispatch_due() == 0
    assert sent == [("telephony.tasks.call_step", (lead.pk,), None)]


def test_each_lease_outlasts_its_run_and_the_calls_is_seconds_past_its_hard_limit():
    from telephony.tasks import call_step

    call = pipeline.STEPS["call"]
    assert call_step.time_limit == pipeline.CALL_TIME_LIMIT > call_step.soft_time_limit
    assert timedelta(seconds=call_step.time_limit) < call.lease <= timedelta(seconds=call_step.time_limit + 10)
    from leads import bitrix

    assert pipeline.STEPS["crm"].lease > timedelta(seconds=bitrix.settle_time() + 10)  # one batch's answer


@pytest.mark.django_db(transaction=True)
def test_a_claim_takes_a_lead_whose_timeline_entry_another_transaction_is_writing():
    """A claim skips rows other transactions hold. Taken FOR UPDATE, it also skipped a lead whose row was only
    under a foreign key's share lock: an entry for its timeline being committed elsewhere."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite runs one writing transaction at a time)")
    lead = LeadFactory(crm_due_at=timezone.now())
    written, claimed = threading.Event(), threading.Event()

    def write_an_entry() -> None:  # another connection, its transaction open while the claim runs
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                # Django's foreign keys are checked at commit; here at once, so that the moment the check
                # holds its lock (the other transaction's commit) lasts while the claim runs.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                LeadEvent.objects.create(lead_id=lead.pk, kind=LeadEvent.Kind.NOTE, message="written elsewhere")
                written.set()
                claimed.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=write_an_entry)
    thread.start()
    try:
        assert written.wait(10)
        taken = pipeline.step_claim_more(step_name="crm", limit=10)
    finally:
        claimed.set()
        thread.join()
    assert [pk for pk, _ in taken] == [lead.pk]
    assert Lead.objects.get(pk=lead.pk).crm_state == State.RUNNING
