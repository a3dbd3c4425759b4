"""Erasing personal data: the retention task, and one person's erasure on request (command and admin).
An erased lead keeps the figures; its number stays on the do-not-call list only as the keyed hash."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from consent.models import ConsentProof
from dashboard import rollups, stats
from dashboard.models import DailyCell
from dnc.models import Entry
from dnc.numbers import number_hash
from dnc.services import dnc_add, dnc_entries, dnc_entry_blocking
from leads.erasure import retention_erase_due
from leads.models import Erasure, Lead, LeadEvent
from leads.services import lead_event_add
from notifications.models import Notification, TelegramChat
from telephony.models import ProbeCall
from tests.factories import CallAttemptFactory, LeadFactory, PartnerFactory, SiteFactory

pytestmark = pytest.mark.django_db
PHONE = "+79121112233"
UTC = ZoneInfo("UTC")


def old_lead(days: int, **fields) -> Lead:
    """A lead of `days` ago with a call, a timeline, a sent card and every personal field filled."""
    fields = {"phone": PHONE, "phone_raw": "8 (912) 111-22-33", "name": "Ivan Petrov", "email": "ivan@example.com",
              "comment": "Call me after six", "client_ip": "203.0.113.7", "user_agent": "Firefox/140",
              "raw_request": {"body": {"phone": PHONE}}, "extra": {"city": "Perm"}, "status": "reached",
              "order_amount": Decimal("990.00"), "currency": "RUB", "utm_source": "ads", **fields}
    lead = LeadFactory(**fields)
    at = timezone.now() - timedelta(days=days)
    Lead.objects.filter(pk=lead.pk).update(created_at=at, first_dial_at=at + timedelta(seconds=7),
                                           last_call_outcome="human")
    CallAttemptFactory(lead=lead, status="finished", outcome="human",
                       custom_data=f'{{"phone":"{lead.phone}"}}', record_url="https://rec.example/1.mp3")
    lead_event_add(lead=lead, kind=LeadEvent.Kind.STEP_STARTED, message=f"calling {lead.phone}, attempt 1",
                   data={"ip": "203.0.113.7", "attempt": 1})
    chat, _created = TelegramChat.objects.get_or_create(chat_id="-100")
    Notification.objects.create(lead=lead, chat=chat, kind="card", status="sent",
                                text=f"🆕 Ivan Petrov\n📞 {lead.phone}\n💬 Call me after six")
    ConsentProof.objects.create(lead=lead, site=lead.site, given_at=at, ip="203.0.113.7", user_agent="Firefox/140",
                                page_url="https://shop.example/order?phone=79121112233", page_source="form",
                                text="I agree to be called.")
    lead.refresh_from_db()
    return lead


def assert_erased(lead: Lead) -> None:
    lead.refresh_from_db()
    assert lead.erased_at
    assert (lead.phone, lead.phone_raw, lead.name, lead.email, lead.comment, lead.client_ip, lead.user_agent,
            lead.raw_request, lead.extra) == ("", "", "", "", "", None, "", {}, {})
    assert not lead.ref.startswith("+7")
    attempt = lead.call_attempts.get()
    assert (attempt.phone, attempt.custom_data, attempt.record_url) == ("", "", "")
    texts = [e.message for e in lead.events.all()] + [str(e.data) for e in lead.events.all()]
    texts += list(Notification.objects.filter(lead=lead).values_list("text", flat=True))
    for value in (PHONE, "8 (912) 111-22-33", "Ivan Petrov", "203.0.113.7", "Call me after six"):
        assert not any(value in text for text in texts), value
    proof = ConsentProof.objects.get(lead=lead)
    assert (proof.ip, proof.user_agent, proof.page_url, proof.page_source) == (None, "", "", "")
    assert (proof.text, proof.given_at) == ("I agree to be called.", lead.created_at), "what and when stay"
    # What the dashboard counts stays.
    assert (lead.order_amount, lead.currency, lead.utm_source, lead.last_call_outcome) == (
        Decimal("990.00"), "RUB", "ads", "human") and lead.first_dial_at


def figures(tz=UTC) -> dict:
    now = timezone.now()
    period = stats.Period(datetime.combine((now - timedelta(days=90)).date(), datetime.min.time(), tzinfo=tz),
                          datetime.combine((now + timedelta(days=1)).date(), datetime.min.time(), tzinfo=tz), tz)
    return {"summary": stats.summary(period), "outcomes": stats.outcome_breakdown(period),
            "speed": stats.speed_to_lead(period), "series": stats.series(period)}


# --- retention ------------------------------------------------------------------------------------
def test_the_retention_task_erases_closed_leads_past_their_sites_period_and_keeps_the_figures(settings):
    settings.DATA_RETENTION_DAYS = 0  # global: kept
    short, keeping, default = SiteFactory(retention_days=30), SiteFactory(retention_days=0), SiteFactory()
    expired = old_lead(45, site=short, partner=PartnerFactory())
    still_open = old_lead(45, site=short, status="manual", phone="+79125550001", ref="open")
    recent = old_lead(10, site=short, phone="+79125550002", ref="recent")
    kept = [old_lead(400, site=keeping, phone="+79125550003", ref="k1"),
            old_lead(400, site=default, phone="+79125550004", ref="k2")]
    dnc_add(phone=PHONE, source="key_press", reason="pressed 9")
    rollups.rollups_refresh(full=True)
    before, cells_before = figures(), sorted(DailyCell.objects.values_list("site_id", "leads", "reached", "human"))

    erasure = retention_erase_due()

    assert_erased(expired)
    for lead in (still_open, recent, *kept):
        lead.refresh_from_db()
        assert lead.erased_at is None and lead.phone
    assert (erasure.kind, erasure.leads, erasure.dnc_entries, erasure.phone_hash) == ("retention", 1, 1, "")
    assert figures() == before, "the dashboard reads no erased field"
    rollups.rollups_refresh(full=True)
    assert sorted(DailyCell.objects.values_list("site_id", "leads", "reached", "human")) == cells_before
    assert retention_erase_due() is None, "nothing twice"


def test_the_global_period_applies_to_sites_without_their_own_and_the_beat_task_runs_it(settings):
    from leads.tasks import erase_expired

    settings.DATA_RETENTION_DAYS = 60
    lead = old_lead(61)

    assert "erase-expired-personal-data" in settings.CELERY_BEAT_SCHEDULE
    assert erase_expired() == 1
    assert_erased(lead)


def test_an_erased_numbers_entry_is_kept_as_its_hash_and_still_stops_a_call(settings):
    settings.DATA_RETENTION_DAYS = 30
    old_lead(31)
    dnc_add(phone=PHONE, source="key_press")
    retention_erase_due()

    entry = Entry.objects.get()
    assert (entry.phone, entry.phone_hash) == ("", number_hash(PHONE)) and entry.erased_at
    newcomer = LeadFactory(phone=PHONE)
    assert dnc_entries(phone=PHONE).get() == entry
    from django.db import transaction

    with transaction.atomic():
        assert dnc_entry_blocking(phone=PHONE, site_id=newcomer.site_id, partner_id=None) == entry


def test_the_hash_is_keyed_with_the_servers_secret(settings):
    first = number_hash(PHONE)
    settings.DNC_HASH_SECRET = "another secret"

    assert number_hash(PHONE) != first and len(first) == 64 and PHONE not in first


# --- on request -----------------------------------------------------------------------------------
def test_the_command_erases_every_lead_of_the_number_ends_the_open_ones_and_audits_it():
    closed = old_lead(5)
    scheduled = old_lead(1, status="scheduled", ref="second form", call_state="pending")
    other = old_lead(1, phone="+79125550000", ref="someone else")
    ProbeCall.objects.create(phone=PHONE, caller_id="74950000000")
    dnc_add(phone=PHONE, source="admin", reason="asked by phone")
    out = StringIO()
    call_command("erase_person", "8 912 111 22 33", "--note", "request #42", stdout=out)

    assert_erased(closed)
    assert_erased(scheduled)
    scheduled.refresh_from_db()
    assert (scheduled.status, scheduled.call_state) == (Lead.Status.OPTED_OUT, Lead.StepState.SKIPPED)
    other.refresh_from_db()
    assert other.phone == "+79125550000" and other.erased_at is None
    assert not ProbeCall.objects.filter(phone=PHONE).exists()
    erasure = Erasure.objects.get()
    assert (erasure.kind, erasure.leads, erasure.dnc_entries, erasure.note) == ("request", 2, 1, "request #42")
    assert erasure.phone_hash == number_hash(PHONE) and erasure.username.startswith("manage.py erase_person (")
    assert "erased: 2 leads" in out.getvalue()
    from notifications.messages import card

    text = card(Lead.objects.get(pk=closed.pk))[0]
    assert "personal data erased" in text and PHONE not in text and "Ivan" not in text
    assert Notification.objects.get(lead=closed).status == "pending", "the sent card is edited to say so"


@pytest.mark.parametrize("args, message", [(["no number"], "not a phone number"),
                                           ([PHONE, "--note", "x" * 301], "longer than 300")])
def test_the_command_refuses_bad_input_and_changes_nothing(args, message):
    lead = old_lead(5)

    with pytest.raises(CommandError, match=message):
        call_command("erase_person", *args)
    lead.refresh_from_db()
    assert lead.phone == PHONE and not Erasure.objects.exists()


def test_the_admin_action_asks_first_then_erases_and_records_who(client, administrator):
    lead = old_lead(3)
    client.force_login(administrator)
    form = {"action": "erase_people", "_selected_action": [lead.pk]}

    confirm = client.post("/admin/leads/lead/", form)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    lead.refresh_from_db()
    assert lead.phone == PHONE and not Erasure.objects.exists()

    done = client.post("/admin/leads/lead/", {**form, "confirmed": "yes", "note": "GDPR request"})
    assert done.status_code == 302
    assert_erased(lead)
    erasure = Erasure.objects.get()
    assert (erasure.user, erasure.note, erasure.leads) == (administrator, "GDPR request", 1)


def test_a_manager_is_not_offered_the_erasure(client, manager):
    lead = old_lead(3)
    client.force_login(manager)
    page = client.get("/admin/leads/lead/")

    assert "erase_people" not in page.content.decode()
    client.post("/admin/leads/lead/", {"action": "erase_people", "_selected_action": [lead.pk], "confirmed": "yes"})
    lead.refresh_from_db()
    assert lead.phone == PHONE
