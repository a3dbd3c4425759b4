"""The lead page's buttons in a real browser (Debian's headless Chromium, the `browser` fixture of
tests/conftest.py): Call now, Take and Handled, each answered on the page, the timeline following; and
/demo/'s folded Bitrix24 cards, which stay as the reader left them when the page refreshes itself."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from leads.models import Lead
from tests.conftest import left_the_page
from tests.factories import LeadFactory, SiteFactory


def _log_in(browser, live_server, user: User) -> None:
    """The session cookie of a logged-in client, so the test spends no time on the login form (its own
    browser test is tests/test_browser.py)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    browser.get(f"{live_server.url}/admin/login/")
    browser.add_cookie({"name": "sessionid", "value": client.cookies["sessionid"].value, "path": "/"})


@pytest.mark.django_db(transaction=True)
def test_a_manager_calls_takes_and_closes_a_lead_from_its_page(browser, live_server, groups):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    manager = User.objects.create_user("maria", password="x", is_staff=True)
    manager.groups.add(Group.objects.get(name="managers"))
    lead = LeadFactory(site=SiteFactory(calling_hours="mon-sun 00:00-23:59", time_zone="UTC"),
                       status=Lead.Status.MANUAL, call_state=Lead.StepState.FAILED, name="Иван Кнопкин")
    _log_in(browser, live_server, manager)
    page = f"{live_server.url}/admin/leads/lead/{lead.pk}/change/"

    def press(button_id: str) -> str:
        button = browser.find_element(By.ID, button_id)
        button.click()
        WebDriverWait(browser, 15).until(left_the_page(button))  # the next page, not this one
        return WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, "ul.messagelist"))).text

    browser.get(page)
    assert "Иван Кнопкин" in browser.page_source
    said = press("lead-call")
    assert "Calling now." in said or "Not now" in said
    assert Lead.objects.get(pk=lead.pk).call_state == Lead.StepState.PENDING

    assert "The lead is yours." in press("lead-take")
    assert "taken by maria" in browser.find_element(By.ID, "lead-timeline").text

    Select(browser.find_element(By.NAME, "outcome")).select_by_value("order placed")
    browser.find_element(By.NAME, "comment").send_keys("paid by card")
    assert "Marked as handled." in press("lead-handled")

    lead.refresh_from_db()
    assert (lead.status, lead.assigned_to) == (Lead.Status.HANDLED, manager)
    timeline = browser.find_element(By.ID, "lead-timeline").text
    assert timeline.index("handled: order placed — paid by card") < timeline.index("taken by maria")  # newest first
    assert browser.find_element(By.ID, "lead-call").get_attribute("disabled") is not None
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


@pytest.mark.django_db(transaction=True)
def test_a_bitrix24_card_opened_on_the_demo_page_stays_open_when_the_page_refreshes(browser, live_server, settings):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from demo.launcher import free_ports
    from demo.simulators import Simulators
    from leads.bitrix import BitrixClient

    bitrix, state = free_ports(2)
    simulators = Simulators({"state_port": state, "bitrix24": {"port": bitrix, "webhook_code": "c0de",
                                                                "webhook_user_id": 1}})
    simulators.start()
    try:
        settings.DEMO_SIMULATORS_URL = f"http://127.0.0.1:{state}/state.json"
        lead_id = BitrixClient(base_url=simulators.bitrix24.webhook_url).call(
            "crm.lead.add", {"fields": {"TITLE": "Demo shop: Anna", "NAME": "Anna"}})
        browser.get(f"{live_server.url}/demo/")
        card = browser.find_element(By.ID, f"bitrix-{lead_id}")
        assert card.get_attribute("open") is None  # folded
        card.find_element(By.TAG_NAME, "summary").click()

        WebDriverWait(browser, 15).until(left_the_page(card))  # the page refreshed itself
        assert browser.find_element(By.ID, f"bitrix-{lead_id}").get_attribute("open") is not None
    finally:
        simulators.stop()
