"""The dashboard in a real browser (Debian's headless Chromium, the `browser` fixture in
tests/conftest.py): a manager logs in, and every chart draws a non-empty dataset without a console
error, under the page's Content-Security-Policy."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from tests.dashboard.test_stats import called, lead_at
from tests.factories import PartnerFactory, SiteFactory


@pytest.mark.django_db(transaction=True)
def test_a_manager_sees_every_chart_drawn_with_data_and_no_console_errors(browser, live_server, groups):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    manager = User.objects.create_user("olga", password="correct-horse-battery")  # no admin rights
    manager.groups.add(Group.objects.get(name="managers"))
    site, partner = SiteFactory(name="Shop"), PartnerFactory(name="Acme")
    for hours, outcome in ((1, "human"), (30, "voicemail"), (50, "human")):
        lead = lead_at(timezone.now() - timedelta(hours=hours), site=site, partner=partner, status="reached",
                       order_amount=Decimal("250.00"), currency="RUB")
        called(lead, outcome, 7)

    browser.get(f"{live_server.url}/dashboard/")  # sent to the dashboard's login page
    browser.find_element(By.NAME, "username").send_keys("olga")
    browser.find_element(By.NAME, "password").send_keys("correct-horse-battery")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 15).until(lambda driver: driver.find_elements(By.ID, "chart-series"))
    canvases = browser.find_elements(By.CSS_SELECTOR, "canvas[data-chart]")
    WebDriverWait(browser, 15).until(lambda driver: all(c.get_attribute("data-drawn") for c in canvases))

    assert len(canvases) == 4
    assert {c.get_attribute("id"): c.get_attribute("data-drawn") != "error" for c in canvases} == {
        "chart-series": True, "chart-outcomes": True, "chart-partner-sums": True, "chart-reached-by-call": True}
    for canvas in canvases:  # the datasets Chart.js holds, not just what the server sent
        points = browser.execute_script(
            "return arguments[0].chart.data.datasets.map(d => d.data.reduce((a, b) => a + b, 0));", canvas)
        assert points and sum(points) > 0, canvas.get_attribute("id")
    headers = browser.find_elements(By.CSS_SELECTOR, "#table-partners th")
    headers[1].click()
    assert headers[1].get_attribute("aria-sort") == "ascending"
    messages = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert messages == []
