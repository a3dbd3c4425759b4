"""End to end in a real browser (Debian's headless Chromium, started by the `browser` fixture in
tests/conftest.py): a manager logs in, opens the needs-attention queue and marks a lead handled."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from leads.models import Lead
from tests.factories import LeadFactory


@pytest.mark.django_db(transaction=True)
def test_a_manager_logs_in_opens_the_queue_and_marks_a_lead_handled(browser, live_server, groups):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    manager = User.objects.create_user("maria", password="correct-horse-battery", is_staff=True)
    manager.groups.add(Group.objects.get(name="managers"))
    lead = LeadFactory(status=Lead.Status.MANUAL, manual_reason="The call failed: 404 Invalid number",
                       name="Иван Браузеров")

    browser.get(f"{live_server.url}/admin/login/?next=/admin/leads/manuallead/")
    browser.find_element(By.NAME, "username").send_keys("maria")
    browser.find_element(By.NAME, "password").send_keys("correct-horse-battery")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # Wait for the queue itself: page_source right after the click may still be the login page.
    row_box = WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located(
        (By.CSS_SELECTOR, f"input[name=_selected_action][value='{lead.pk}']")))

    assert "Иван Браузеров" in browser.page_source and "404 Invalid number" in browser.page_source
    row_box.click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("lead_mark_handled")
    Select(browser.find_element(By.NAME, "outcome")).select_by_value("order placed")
    browser.find_element(By.NAME, "comment").send_keys("called back from the office")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()

    messages = WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located(
        (By.CSS_SELECTOR, "ul.messagelist")))
    assert "1 lead" in messages.text
    lead.refresh_from_db()
    assert lead.status == Lead.Status.HANDLED and lead.assigned_to == manager
    assert "called back from the office" in lead.events.get(kind="status").message
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def _csp_violations(browser) -> list[dict]:
    """Console entries of the page: Chromium reports each blocked script or style as a SEVERE one."""
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
            or "Content Security Policy" in entry["message"]]


@pytest.mark.django_db(transaction=True)
def test_the_api_docs_admin_and_demo_form_render_under_their_csp_without_a_violation(browser, live_server):
    from django.contrib.auth.models import User
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.factories import SiteFactory

    SiteFactory(domain="localhost")  # the demo form's own origin, as `make run` registers it
    browser.get(f"{live_server.url.replace('127.0.0.1', 'localhost')}/api/docs/")
    title = WebDriverWait(browser, 20).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".info .title"))
    WebDriverWait(browser, 20).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".opblock"))

    assert "Leadcaller API" in title[0].text
    assert "/api/v1/leads/" in browser.page_source  # the operations drawn from the schema
    assert _csp_violations(browser) == []

    User.objects.create_superuser("root", password="correct-horse-battery")
    browser.get(f"{live_server.url}/admin/login/?next=/admin/leads/site/add/")
    browser.find_element(By.NAME, "username").send_keys("root")
    browser.find_element(By.NAME, "password").send_keys("correct-horse-battery")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 15).until(lambda driver: driver.find_elements(By.NAME, "call_number_types"))
    assert _csp_violations(browser) == []

    browser.get(f"{live_server.url.replace('127.0.0.1', 'localhost')}/")
    browser.find_element(By.NAME, "phone").send_keys("+7 912 345-67-89")
    browser.find_element(By.CSS_SELECTOR, "#lead-form button").click()
    result = WebDriverWait(browser, 15).until(
        lambda driver: (text := driver.find_element(By.ID, "lead-result").text) != "…" and text)
    assert result.startswith("Thank you!"), result
    assert _csp_violations(browser) == []
