"""The Integrations page's "try the connection" buttons: who may press them, what each proves against the
provider's fake, that every use is audited, and that a test call never touches a lead."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client

from demo.fakes.telegram import FakeTelegram
from demo.fakes.voximplant import FakeVoximplant, always
from leads.models import IntegrationCheck, Lead, LeadEvent
from telephony.models import CallAttempt, ProbeCall
from telephony.scenario import scenario_source, scenario_version
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db
PAGE = "/admin/integrations/"
RENTED = "74951234567"


def try_url(action: str) -> str:
    return f"{PAGE}try/{action}/"


def person(username: str, group: str) -> User:
    user = User.objects.create_user(username, password="pw-" + username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def boss(client, groups):
    user = person("boss", "administrators")
    client.force_login(user)
    return user


@pytest.fixture
def tg(settings):
    with FakeTelegram(timeout_delay=0.6) as fake:
        fake.add_chat(-100123456, "supergroup", title="Sales")
        settings.TELEGRAM_API_URL, settings.TELEGRAM_BOT_TOKEN = fake.url, fake.token
        settings.TELEGRAM_CHAT_ID = "-100123456"
        yield fake


@pytest.fixture
def vox(settings, tmp_path):
    """An account set up by `voximplant_setup`, and the project configured for it."""
    with FakeVoximplant(rule_ids=()) as fake:
        fake.account.rent_number(RENTED)
        settings.VOXIMPLANT_API_URL = fake.url
        settings.VOXIMPLANT_CREDENTIALS = str(fake.write_credentials(tmp_path / "vox.json"))
        settings.VOXIMPLANT_CALLER_ID, settings.VOXIMPLANT_CALLBACK_SECRET = RENTED, "probe-secret"
        settings.VOXIMPLANT_RULE_ID = ""
        out = StringIO()
        call_command("voximplant_setup", stdout=out)
        settings.VOXIMPLANT_RULE_ID = next(line.split("=")[1] for line in out.getvalue().splitlines()
                                           if line.startswith("VOXIMPLANT_RULE_ID="))
        yield fake


def last_check() -> IntegrationCheck:
    return IntegrationCheck.objects.get()


@pytest.mark.parametrize(("action", "data"), [("bitrix24", {}), ("voximplant", {}),
                                               ("telegram", {"chat_id": "-100123456"}),
                                               ("test-call", {"phone": "+79120000000"})])
def test_a_manager_may_not_press_the_buttons(client, groups, action, data):
    client.force_login(person("maria", "managers"))

    assert client.post(try_url(action), data).status_code == 403
    assert not IntegrationCheck.objects.exists() and not ProbeCall.objects.exists()


def test_administrators_have_the_integrations_permission_from_their_group(groups):
    assert person("boss", "administrators").has_perm("leads.test_integrations")
    assert not person("maria", "managers").has_perm("leads.test_integrations")


def test_the_buttons_take_only_posts_with_the_csrf_token(boss):
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(boss)

    assert guarded.get(try_url("bitrix24")).status_code == 405
    assert guarded.post(try_url("bitrix24")).status_code == 403
    assert not IntegrationCheck.objects.exists()


def test_bitrix24_check_reads_the_lead_fields_and_is_audited(client, boss, b24):
    response = client.post(try_url("bitrix24"), follow=True)

    check = last_check()
    assert (check.username, check.provider, check.action, check.ok) == ("boss", "bitrix24", "check", True)
    assert "lead fields" in check.result and check.result in response.content.decode()
    assert [r.method for r in b24.requests] == ["crm.lead.fields"]


def test_bitrix24_check_with_a_wrong_webhook_fails_without_showing_it(client, boss, b24, settings):
    settings.BITRIX_WEBHOOK_URL = b24.webhook_url.replace(b24.webhook_code, "wrong-code-123")

    page = client.post(try_url("bitrix24"), follow=True).content.decode()

    assert last_check().ok is False and "NO_AUTH_FOUND" in last_check().result
    assert "wrong-code-123" not in page and "wrong-code-123" not in last_check().result


def test_voximplant_check_finds_the_rule_and_our_scenario_version(client, boss, vox):
    page = client.post(try_url("voximplant"), follow=True).content.decode()

    check = last_check()
    assert check.ok is True, check.result
    assert f"version {scenario_version()}, the same source as this checkout" in check.result
    assert f"caller ID {RENTED}: ok" in check.result and check.result in page


def test_voximplant_check_reports_an_older_scenario_upload(client, boss, vox):
    (scenario,) = vox.account.scenarios.values()
    scenario.script = scenario_source().replace(f"SCENARIO_VERSION = {scenario_version()};", "SCENARIO_VERSION = 0;")

    client.post(try_url("voximplant"))

    assert last_check().ok is False
    assert f"uploaded version 0, this checkout has version {scenario_version()}" in last_check().result


def test_voximplant_check_says_when_no_application_has_the_configured_rule(client, boss, vox, settings):
    settings.VOXIMPLANT_RULE_ID = "424242"

    client.post(try_url("voximplant"))

    assert last_check().ok is False and "424242" in last_check().result


def test_telegram_check_asks_get_me_and_sends_a_test_message_to_the_chosen_chat(client, boss, tg):
    client.post(try_url("telegram"), {"chat_id": "-100123456"})

    check = last_check()
    assert (check.ok, check.action, check.target) == (True, "test_message", "-100123456")
    assert "@leadcaller_fake_bot" in check.result
    assert [r.method for r in tg.requests] == ["getMe", "sendMessage"]
    assert "test message" in tg.messages(-100123456)[0].plain


def test_telegram_check_to_a_chat_the_bot_is_not_in_fails_and_is_audited(client, boss, tg):
    client.post(try_url("telegram"), {"chat_id": "-100999"})

    assert last_check().ok is False and "chat not found" in last_check().result


def test_a_malformed_chat_id_is_a_400_and_nothing_is_tried(client, boss, tg):
    response = client.post(try_url("telegram"), {"chat_id": "sales team"})

    assert response.status_code == 400 and "A chat id is a number" in response.content.decode()
    assert tg.requests == [] and not IntegrationCheck.objects.exists()


def test_a_test_call_to_what_is_no_phone_number_is_a_400(client, boss, vox):
    response = client.post(try_url("test-call"), {"phone": "call me"})

    assert response.status_code == 400 and not ProbeCall.objects.exists() and not IntegrationCheck.objects.exists()


def test_a_test_call_outside_the_allowed_regions_is_refused_and_audited(client, boss, vox):
    client.post(try_url("test-call"), {"phone": "+1 650 253 0000"})

    assert last_check().ok is False and "US" in last_check().result
    assert not ProbeCall.objects.exists()


@pytest.fixture
def probe_stack(live_server, settings, vox):
    """The fake plays the scenario: it fetches the settings from our server and posts the result there."""
    settings.PUBLIC_BASE_URL = live_server.url
    vox.policy, vox.fetch_settings = always("human", duration=4, digits="1"), True
    return vox


@pytest.mark.django_db(transaction=True)
def test_a_test_call_runs_the_scenario_and_its_result_shows_on_the_page(client, groups, probe_stack):
    client.force_login(person("boss", "administrators"))

    client.post(try_url("test-call"), {"phone": "+7 912 000-00-00"})

    assert wait_for(lambda: ProbeCall.objects.filter(status="finished").exists(), timeout=20), probe_stack.deliveries
    call = ProbeCall.objects.get()
    assert (call.phone, call.caller_id, call.outcome, call.duration, call.digits) == (
        "+79120000000", RENTED, "human", 4, "1")
    assert call.session_id == probe_stack.sessions[0].id and call.requested_by.username == "boss"
    fetched, posted = probe_stack.deliveries
    assert (fetched.method, fetched.status, posted.status) == ("GET", 200, 200)
    assert "This is a test call from Leadcaller" in fetched.response and '"scenario_version"' in fetched.response
    assert last_check().ok is True and last_check().action == "test_call"
    page = client.get(PAGE).content.decode()
    assert "answered by a person" in page and "+79120000000" in page
    assert not (Lead.objects.exists() or CallAttempt.objects.exists() or LeadEvent.objects.exists())


def test_the_page_refreshes_itself_only_while_a_test_call_waits_for_its_result(client, boss):
    waiting = ProbeCall.objects.create(phone="+79120000000", caller_id=RENTED, status="started")
    assert 'http-equiv="refresh"' in client.get(PAGE).content.decode()

    ProbeCall.objects.filter(pk=waiting.pk).update(status="finished", outcome="busy")
    assert 'http-equiv="refresh"' not in client.get(PAGE).content.decode()


def test_get_me_answers_the_fields_telegram_returns_only_there(tg):
    from notifications.telegram import client_from_settings

    bot = client_from_settings().get_me()

    assert bot["is_bot"] is True and {"can_join_groups", "supports_inline_queries"} <= set(bot)
