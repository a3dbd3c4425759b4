"""/demo/: what the simulators received, rendered safely; absent unless make run runs simulators."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from demo import chat
from demo.launcher import free_ports
from demo.simulators import Simulators
from leads.bitrix import BitrixClient
from leads.models import Lead
from notifications.telegram import Button, TelegramClient
from tests.factories import LeadFactory


@pytest.fixture
def simulators(tmp_path):
    bitrix, telegram, state = free_ports(3)
    running = Simulators({"state_port": state,
                          "bitrix24": {"port": bitrix, "webhook_code": "c0de", "webhook_user_id": 1},
                          "telegram": {"port": telegram, "token": "123:AAdemo", "chats": ["-1001000000001"]}})
    running.start()
    yield running
    running.stop()


def test_no_demo_page_without_simulators(client, settings):
    settings.DEMO_SIMULATORS_URL = ""

    assert client.get("/demo/").status_code == 404


def test_no_demo_page_for_a_visitor_from_another_machine(client, settings):
    settings.DEMO_SIMULATORS_URL = "http://127.0.0.1:9/state.json"

    assert client.get("/demo/", REMOTE_ADDR="203.0.113.7").status_code == 404


def test_no_demo_page_for_a_visitor_behind_a_proxy_on_this_machine(client, settings):
    settings.DEMO_SIMULATORS_URL = "http://127.0.0.1:9/state.json"

    assert client.get("/demo/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 404


def test_pages_link_the_simulators_only_while_they_run(client, settings, db):
    settings.DEMO_SIMULATORS_URL = ""
    assert 'href="/demo/"' not in client.get("/").content.decode()

    settings.DEMO_SIMULATORS_URL = "http://127.0.0.1:9/state.json"
    assert 'href="/demo/"' in client.get("/").content.decode()
    assert 'href="/demo/"' not in client.get("/", REMOTE_ADDR="203.0.113.7").content.decode()


@pytest.mark.django_db
def test_page_says_when_the_simulators_do_not_answer(client, settings):
    settings.DEMO_SIMULATORS_URL = f"http://127.0.0.1:{free_ports(1)[0]}/state.json"

    page = client.get("/demo/")

    assert page.status_code == 200 and "The simulators do not answer" in page.content.decode()
    assert "The real service is in use" not in page.content.decode()


@pytest.mark.django_db
def test_page_shows_bitrix_leads_and_telegram_messages_with_lead_input_escaped(client, settings, simulators):
    settings.DEMO_SIMULATORS_URL = f"http://127.0.0.1:{simulators.state.port}/state.json"
    BitrixClient(base_url=simulators.bitrix24.webhook_url).call("crm.lead.add", {"fields": {
        "TITLE": "Shop: <img src=x>", "NAME": "<script>x</script>", "ORIGINATOR_ID": "leadcaller",
        "ORIGIN_ID": "abc-123", "PHONE": [{"VALUE": "+79123456789", "VALUE_TYPE": "WORK"}]}})
    TelegramClient(api_url=simulators.telegram.url, token="123:AAdemo").send_message(
        "-1001000000001", "🆕 <b>New lead</b>\n👤 &lt;script&gt;alert(1)&lt;/script&gt;\n📞 +79123456789\n"
        "🔗 Open in admin: <code>http://localhost:8000/admin/</code>",
        buttons=[Button("Open in Bitrix24", "https://shop.bitrix24.ru/crm/lead/details/1/")])
    LeadFactory(name="<i>Anna</i>")

    html = client.get("/demo/").content.decode()

    assert "abc-123" in html and "+79123456789" in html and "leadcaller" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "&lt;img src=x&gt;" in html
    assert "<b>New lead</b>" in html and "<code>http://localhost:8000/admin/</code>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "&lt;i&gt;Anna&lt;/i&gt;" in html
    assert 'href="https://shop.bitrix24.ru/crm/lead/details/1/"' in html
    assert "The real service is in use: see the call history in VoxImplant." in html


@pytest.mark.django_db
def test_page_says_when_a_lead_will_be_called_next(client, settings):
    settings.DEMO_SIMULATORS_URL = f"http://127.0.0.1:{free_ports(1)[0]}/state.json"
    lead = LeadFactory(name="Boris")
    Lead.objects.filter(pk=lead.pk).update(scheduled_at=datetime(2099, 1, 2, 9, 30, tzinfo=UTC))

    assert "next call at 02.01 09:30" in client.get("/demo/").content.decode()


def test_message_html_nests_entities_counted_in_utf16_units():
    plain = "🆕 New lead\n📞 +7912"
    entities = [{"type": "bold", "offset": 3, "length": 8},  # the emoji is two UTF-16 units
                {"type": "italic", "offset": 7, "length": 4},
                {"type": "text_link", "offset": 15, "length": 5, "url": "tel:+7912"}]

    assert chat.message_html(plain, entities) == (
        '🆕 <b>New <i>lead</i></b><br>📞 <a href="tel:+7912" rel="noopener noreferrer">+7912</a>')


def test_message_html_drops_links_to_other_schemes_and_escapes_text():
    html = chat.message_html("<x> click", [{"type": "text_link", "offset": 4, "length": 5,
                                            "url": "javascript:alert(1)"}])

    assert html == "&lt;x&gt; click"


def test_buttons_keep_only_web_and_phone_links():
    markup = {"inline_keyboard": [[{"text": "ok", "url": "https://a.example/"}, {"text": "bad", "url": "javascript:x"},
                                   {"text": "cb", "callback_data": "1"}]]}

    assert chat.buttons(markup) == [{"text": "ok", "url": "https://a.example/"}, {"text": "bad", "url": ""},
                                    {"text": "cb", "url": ""}]
