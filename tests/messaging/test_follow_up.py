"""The follow-up SMS against the fake VoxImplant: once per lead after the first unreached call (and after the
last, per site), inside the lead's window, never to a listed or opted-out number, within the daily budget;
the gateway's refusals put the lead into manual handling with the reason; delivery status is read back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from dnc.models import Entry
from dnc.services import dnc_add
from leads.models import Lead
from messaging import services
from messaging.models import Message, SiteMessaging
from notifications.messages import card
from tests.factories import LeadFactory, SiteFactory
from tests.telephony.test_cadence_routing import dial
from tests.telephony.test_callback import post_result

pytestmark = pytest.mark.django_db
Status, Kind = Message.Status, Message.Kind


@pytest.fixture
def texting(vox, settings):
    settings.SMS_SENDER, settings.SMS_GATEWAY = "LEADCALLER", "voximplant"

    def site(**fields):
        site = SiteFactory(name="Green Shop", call_cadence=fields.pop("call_cadence", "0, 5m, 30m"))
        SiteMessaging.objects.create(site=site, enabled=True, seller_phone="+7 495 123-45-67",
                                     link="https://green.example/c", **fields)
        return site
    return site


def missed(api, lead: Lead, result: str = "no_answer") -> None:
    post_result(api, dial(lead), result)
    services.messages_dispatch_due()


def test_the_first_unreached_call_sends_one_message_with_the_sites_template(api, vox, texting):
    lead = LeadFactory(site=texting(), phone="+79161234567")
    missed(api, lead)
    missed(api, lead, "busy")

    message = Message.objects.get(lead=lead)
    assert (message.kind, message.status, message.gateway) == (Kind.FIRST_MISS, Status.SENT, "voximplant")
    [record] = vox.sms.records
    assert (record.destination_number, record.source_number) == ("79161234567", "LEADCALLER")
    assert record.text == message.text == ("Green Shop: we called about your request and could not reach you. "
                                           "Call us back: +7 495 123-45-67 https://green.example/c")
    assert message.provider_id == str(record.transaction_id)


@pytest.mark.parametrize("after_last, kinds", [(True, [Kind.FIRST_MISS, Kind.LAST_MISS]), (False, [Kind.FIRST_MISS])])
def test_a_second_message_goes_after_the_last_call_only_where_the_site_says_so(api, vox, texting, after_last, kinds):
    lead = LeadFactory(site=texting(call_cadence="0, 5m", after_last=after_last))
    missed(api, lead)
    missed(api, lead)

    lead.refresh_from_db()
    assert lead.status == Lead.Status.MANUAL and "after 2 calls" in lead.manual_reason
    assert list(Message.objects.filter(lead=lead, status=Status.SENT).values_list("kind", flat=True)) == kinds
    assert len(vox.sms.records) == len(kinds)


def test_a_site_without_messages_sends_none(api, vox, settings):
    settings.SMS_SENDER = "LEADCALLER"
    lead = LeadFactory(site=SiteFactory(call_cadence="0, 5m"))
    missed(api, lead)

    assert not Message.objects.exists() and vox.sms.records == []


def test_a_number_on_the_do_not_call_list_gets_no_message(api, vox, texting):
    lead = LeadFactory(site=texting())
    missed(api, lead)  # planned and sent at once: list the number before the next lead's message
    other = LeadFactory(site=lead.site, phone="+79165550000", ref="other")
    post_result(api, dial(other), "no_answer")
    dnc_add(phone=other.phone, source=Entry.Source.ADMIN)
    services.messages_dispatch_due()

    message = Message.objects.get(lead=other)
    assert message.status == Status.SKIPPED and "do-not-call" in message.detail
    assert [r.destination_number for r in vox.sms.records] == [lead.phone[1:]]


def test_a_lead_that_opted_out_or_was_reached_meanwhile_gets_no_message(api, vox, texting):
    lead = LeadFactory(site=texting())
    post_result(api, dial(lead), "no_answer")
    Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.OPTED_OUT)
    services.messages_dispatch_due()

    assert Message.objects.get(lead=lead).status == Status.SKIPPED and vox.sms.records == []


def test_a_message_waits_for_the_leads_local_window(api, vox, texting, settings):
    lead = LeadFactory(site=texting())
    post_result(api, dial(lead), "no_answer")
    now = timezone.now()
    opens, closes = (now + timedelta(hours=2)).strftime("%H:00"), (now + timedelta(hours=3)).strftime("%H:00")
    # An hour that ends at midnight is written 24:00 ("23:00-00:00" would end before it starts).
    settings.LEAD_LOCAL_HOURS = f"{opens}-{'24:00' if closes == '00:00' else closes}"
    services.messages_dispatch_due()

    message = Message.objects.get(lead=lead)
    assert message.status == Status.PENDING and message.due_at > now + timedelta(hours=1)
    assert vox.sms.records == []


def test_the_sites_daily_budget_is_kept_and_the_lead_over_it_goes_to_manual_handling(api, vox, texting):
    site = texting(daily_budget=1)
    first, second = LeadFactory(site=site), LeadFactory(site=site)
    missed(api, first)
    missed(api, second)

    assert Message.objects.get(lead=first).status == Status.SENT
    refused = Message.objects.get(lead=second)
    second.refresh_from_db()
    assert refused.status == Status.FAILED and "budget of 1 messages a day" in refused.detail
    assert second.status == Lead.Status.MANUAL and "text message was not sent" in second.manual_reason
    assert len(vox.sms.records) == 1


@pytest.mark.parametrize("break_it, reason", [
    (lambda vox: vox.sms.senders.clear(), "SMS is not enabled for the sender"),
    (lambda vox: vox.sms.unreachable.add("79169990011"), "SMS failed to send. (code 385)"),
    (lambda vox: setattr(vox.sms, "balance", 0.0), "balance is too low"),
    (lambda vox: vox.fail_next("A2PSendSms", "auth"), "refused the credentials"),
], ids=["rejected sender", "bad number", "no balance", "auth"])
def test_a_gateway_refusal_puts_the_lead_into_manual_handling_with_the_reason(api, vox, texting, break_it, reason):
    lead = LeadFactory(site=texting(), phone="+79169990011")
    break_it(vox)
    missed(api, lead)

    message = Message.objects.get(lead=lead)
    lead.refresh_from_db()
    assert message.status == Status.FAILED and reason in message.detail
    assert lead.status == Lead.Status.MANUAL and reason in lead.manual_reason
    assert vox.sms.records == []


def test_a_transient_failure_is_retried_later(api, vox, texting):
    lead = LeadFactory(site=texting())
    vox.fail_next("A2PSendSms", "http5xx")
    missed(api, lead)

    message = Message.objects.get(lead=lead)
    assert message.status == Status.PENDING and message.due_at > timezone.now()
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    services.messages_dispatch_due()
    assert Message.objects.get(pk=message.pk).status == Status.SENT and len(vox.sms.records) == 1


def test_a_send_whose_answer_was_lost_is_found_in_the_history_and_not_sent_twice(api, vox, texting, short_timeouts):
    lead = LeadFactory(site=texting())
    vox.fail_next("A2PSendSms", "timeout")  # the message goes; the answer comes too late
    missed(api, lead)
    message = Message.objects.get(lead=lead)
    assert message.status == Status.PENDING and message.provider_status == "unconfirmed"

    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    services.messages_dispatch_due()
    message.refresh_from_db()
    assert message.status == Status.SENT and len(vox.sms.records) == 1
    assert message.provider_id == str(vox.sms.records[0].transaction_id)


@pytest.mark.parametrize("network, status", [("DELIVERED", Status.DELIVERED), ("EXPIRED", Status.UNDELIVERED)])
def test_the_delivery_status_is_read_back_and_shown_on_the_card(api, vox, texting, network, status):
    lead = LeadFactory(site=texting(), phone="+79163332211")
    vox.sms.outcome["79163332211"] = network
    missed(api, lead)
    assert services.messages_status_check() == 1

    message = Message.objects.get(lead=lead)
    assert (message.status, message.provider_status) == (status, network)
    text, _buttons = card(lead)
    assert f"SMS after the first call that did not reach the person: {message.get_status_display()}" in text


def test_a_template_with_an_unknown_placeholder_is_refused():
    config = SiteMessaging(site=SiteFactory(), template="Hi {name}, call {seller_phone}")

    with pytest.raises(ValidationError, match=r"Unknown placeholders: \{name\}"):
        config.full_clean()


def test_the_settings_page_refuses_a_bad_template_and_saves_a_good_one(client, db):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", password="pw"))
    site = SiteFactory()
    data = {"site": site.pk, "enabled": "on", "template": "Hi {name}", "daily_budget": 10, "link": "shop.example/c"}

    refused = client.post("/admin/messaging/sitemessaging/add/", data)
    assert refused.status_code == 200 and "Unknown placeholders: {name}" in refused.content.decode()
    assert not SiteMessaging.objects.exists()
    assert client.post("/admin/messaging/sitemessaging/add/", {**data, "template": "{shop}: {link}"}).status_code == 302
    assert SiteMessaging.objects.get(site=site).link == "https://shop.example/c"
