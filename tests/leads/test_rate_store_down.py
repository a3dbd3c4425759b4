"""Redis, which keeps the providers' rate limits for every worker, does not answer: a step that needs a
provider's limits waits for it without spending the lead's tries, and goes on once it is back."""

from __future__ import annotations

import pytest
from django.utils import timezone

from leads import crm, pipeline, ratelimit
from leads.models import Lead
from notifications.models import Notification
from notifications.services import notification_deliver
from tests.drills.servers import spare_port
from tests.factories import LeadFactory
from tests.leads.conftest import b24  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_away(settings):
    """Swap the broker (and so the rate-limit store) for a Redis address where nothing listens; returns
    a function that brings the real one back."""
    real = settings.CELERY_BROKER_URL
    if not real.startswith("redis://"):
        pytest.skip("CELERY_BROKER_URL is not Redis: the limits are kept in the database")
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{spare_port()}/0"

    def back() -> None:
        settings.CELERY_BROKER_URL = real

    return back


def test_a_take_while_redis_is_away_says_so(redis_away):
    with pytest.raises(ratelimit.StoreDown):
        ratelimit.take("any", rate=1.0, capacity=1)


def test_the_crm_step_waits_for_redis_without_spending_its_tries(b24, redis_away):  # noqa: F811
    lead = LeadFactory()
    for _ in range(pipeline.STEPS["crm"].max_tries + 2):
        Lead.objects.filter(pk=lead.pk).update(crm_due_at=timezone.now())
        crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()

    assert (lead.crm_state, lead.crm_tries, lead.status) == ("pending", 0, Lead.Status.IN_PROGRESS)
    assert lead.crm_due_at > timezone.now() and b24.requests == []

    redis_away()  # back
    Lead.objects.filter(pk=lead.pk).update(crm_due_at=timezone.now())
    crm.crm_step_run(lead_id=lead.pk)
    lead.refresh_from_db()
    assert lead.crm_state == "done" and lead.bitrix_lead_id in b24.leads


def test_a_telegram_card_waits_for_redis_without_spending_its_tries(tg, redis_away):
    lead = LeadFactory()
    pipeline.step_run(step_name="notify", lead_id=lead.pk)
    card = Notification.objects.get(lead=lead, kind=Notification.Kind.CARD)
    for _ in range(12):
        Notification.objects.filter(pk=card.pk).update(due_at=timezone.now())
        notification_deliver(card.pk)
    card.refresh_from_db()

    assert (card.status, card.attempts) == ("pending", 0) and tg.requests == []

    redis_away()  # back
    Notification.objects.filter(pk=card.pk).update(due_at=timezone.now())
    notification_deliver(card.pk)
    card.refresh_from_db()
    assert card.status == "sent" and len(tg.messages(tg.chat_id)) == 1
