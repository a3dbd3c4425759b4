"""The dashboard in a real browser (Debian's headless Chromium, the `browser` fixture in
tests/conftest.py): charts drawn under the page's Content-Security-Policy, the period label and the
filters as a manager uses them, the language switch and logging out."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from tests.conftest import left_the_page
from tests.dashboard.test_stats import called, lead_at
from tests.factories import PartnerFactory, SiteFactory


def _console_problems(browser) -> list[dict]:
    return [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


def _logged_in(browser, live_server, user: User, path: str = "/dashboard/"):
    """Log `user` in by session cookie (the login form has its own test) and open `path`."""
    client = Client()
    client.force_login(user)
    browser.get(f"{live_server.url}/dashboard/login/")
    browser.add_cookie({"name": "sessionid", "value": client.cookies["sessionid"].value, "path": "/"})
    browser.get(f"{live_server.url}{path}")


def _manager(name: str, **fields) -> User:
    user = User.objects.create_user(name, password="correct-horse-battery", **fields)
    user.groups.add(Group.objects.get(name="managers"))
    return user


def _submitted(browser, action) -> None:
    """Run `action` (a click that sends a form) and wait for the next page: reading right after the
    click may still see the old one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")
    action()
    WebDriverWait(browser, 10).until(left_the_page(page))


def _period(browser) -> tuple[str, str]:
    from selenium.webdriver.common.by import By

    label = browser.find_element(By.CSS_SELECTOR, "p.period")
    return label.get_attribute("data-first"), label.get_attribute("data-last")


@pytest.mark.django_db(transaction=True)
def test_a_manager_sees_every_chart_drawn_with_data_and_no_console_errors(browser, live_server, groups):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _manager("olga")  # no admin rights
    site, partner = SiteFactory(name="Shop"), PartnerFactory(name="Acme")
    for hours, outcome in ((1, "human"), (30, "voicemail"), (50, "human")):
        lead = lead_at(timezone.now() - timedelta(hours=hours), site=site, partner=partner, status="reached",
                       order_amount=Decimal("1250000.00"), currency="RUB")
        called(lead, outcome, 7)

    browser.get(f"{live_server.url}/dashboard/")  # sent to the dashboard's login page
    browser.find_element(By.NAME, "username").send_keys("olga")
    browser.find_element(By.NAME, "password").send_keys("correct-horse-battery")
    browser.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    WebDriverWait(browser, 15).until(lambda driver: driver.find_elements(By.ID, "chart-series"))
    canvases = browser.find_elements(By.CSS_SELECTOR, "canvas[data-chart]")
    WebDriverWait(browser, 15).until(lambda driver: all(c.get_attribute("data-drawn") for c in canvases))

    assert {c.get_attribute("id"): c.get_attribute("data-drawn") != "error" for c in canvases} == {
        "chart-series": True, "chart-outcomes": True, "chart-partner-sums-RUB": True,
        "chart-reached-by-call": True}
    for canvas in canvases:  # the datasets Chart.js holds, not just what the server sent
        points = browser.execute_script(
            "return arguments[0].chart.data.datasets.map(d => d.data.reduce((a, b) => a + b, 0));", canvas)
        assert points and sum(points) > 0, canvas.get_attribute("id")
    kinds = {c.get_attribute("id"): browser.execute_script(
        "const c = arguments[0].chart; return [c.config.type, c.options.indexAxis];", c) for c in canvases}
    assert kinds["chart-series"] == ["bar", "x"] and kinds["chart-partner-sums-RUB"] == ["bar", "y"]
    # The first section is speed to lead; a sum of millions fits its tile, shortened, the full sum in its title.
    assert browser.find_element(By.CSS_SELECTOR, "main > section").get_attribute("id") == "speed"
    total = browser.find_element(By.CSS_SELECTOR, "[data-total=sum-RUB]")
    assert total.text == "3.8 M RUB" and total.get_attribute("title") == "3,750,000.00 RUB"
    tile = total.find_element(By.XPATH, "./ancestor::div[@class='tile']")
    assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth;", tile)
    assert 'id="nav-admin"' not in browser.page_source  # she cannot open the admin
    headers = browser.find_elements(By.CSS_SELECTOR, "#table-partners th")
    headers[1].click()
    assert headers[1].get_attribute("aria-sort") == "ascending"
    assert _console_problems(browser) == []


@pytest.mark.django_db(transaction=True)
def test_the_period_label_and_the_filters_as_a_manager_uses_them(browser, live_server, groups, settings):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    settings.TIME_ZONE = "UTC"  # the server's zone; the manager looks at Berlin's and Tokyo's days
    _logged_in(browser, live_server, _manager("anna"), "/dashboard/?range=30&tz=Europe/Berlin")
    berlin = timezone.localtime(timezone.now(), ZoneInfo("Europe/Berlin")).date()
    tokyo = timezone.localtime(timezone.now(), ZoneInfo("Asia/Tokyo")).date()

    assert _period(browser) == (str(berlin - timedelta(days=29)), str(berlin))

    Select(browser.find_element(By.NAME, "range")).select_by_value("today")
    Select(browser.find_element(By.NAME, "tz")).select_by_value("Asia/Tokyo")
    _submitted(browser, browser.find_element(By.CSS_SELECTOR, "form.filter button").click)
    assert _period(browser) == (str(tokyo), str(tokyo))
    assert browser.find_element(By.CSS_SELECTOR, "p.period").text.startswith(f"{tokyo:%m/%d/%Y} – {tokyo:%m/%d/%Y}")

    # Dates typed in apply at once: the list switches itself to "Dates below".
    for name, day in (("start", date(2026, 11, 5)), ("end", date(2026, 11, 9))):
        field = browser.find_element(By.NAME, name)
        browser.execute_script("arguments[0].value = arguments[1];"
                               "arguments[0].dispatchEvent(new Event('change'));", field, str(day))
    assert Select(browser.find_element(By.NAME, "range")).first_selected_option.get_attribute("value") == "custom"
    _submitted(browser, browser.find_element(By.CSS_SELECTOR, "form.filter button").click)
    assert _period(browser) == ("2026-11-05", "2026-11-09")

    # A preset chosen afterwards is not overruled by the dates still in the boxes.
    Select(browser.find_element(By.NAME, "range")).select_by_value("7")
    assert browser.find_element(By.NAME, "start").get_attribute("value") == ""
    _submitted(browser, browser.find_element(By.CSS_SELECTOR, "form.filter button").click)
    assert _period(browser) == (str(tokyo - timedelta(days=6)), str(tokyo))
    assert _console_problems(browser) == []


@pytest.mark.django_db(transaction=True)
def test_the_language_switch_and_logging_out(browser, live_server, groups):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _logged_in(browser, live_server, _manager("ivan", is_staff=True), "/dashboard/?range=7")
    assert browser.find_element(By.ID, "nav-admin").text == "Admin"

    _submitted(browser, lambda: Select(browser.find_element(By.NAME, "language")).select_by_value("ru"))
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ru"  # applied on change
    assert browser.current_url.endswith("/dashboard/?range=7")
    assert "Где лиды сейчас" in browser.page_source and browser.find_element(By.ID, "nav-admin").text == "Админка"

    _submitted(browser, browser.find_element(By.ID, "nav-logout").click)
    assert browser.find_elements(By.NAME, "password")
    browser.get(f"{live_server.url}/dashboard/")
    assert "/dashboard/login/" in browser.current_url  # the session is gone
    assert _console_problems(browser) == []
