"""The callback widget in a real browser (headless Chromium, the `browser` fixture): on a shop's page
served from another origin (a second local port), under hostile CSS, it renders, validates, posts to
the intake, and shows the call's live state as the simulated call's result arrives."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from selenium.common.exceptions import StaleElementReferenceException
import requests
from django.utils import timezone

from consent.models import ConsentText
from leads.models import Lead
from telephony.models import CallAttempt
from telephony.tokens import attempt_token
from tests.factories import CallAttemptFactory, SiteFactory

# A shop whose CSS would break a naive widget: everything hidden, shrunk, recoloured, our tag targeted,
# and class names that our own styles also use.
HOSTILE_CSS = """
* { font-size: 3px !important; color: #ff0 !important; background: #f0f !important; letter-spacing: 9px !important;
    font-family: "Comic Sans MS" !important; }
div, button, input, form, label, p, h2 { display: none !important; visibility: hidden !important; }
body * { opacity: 0 !important; transform: scale(0) !important; }
leadcaller-widget { display: none !important; position: absolute !important; left: -9999px !important; }
.btn, .panel { display: none !important; }
.shop-note { display: block !important; visibility: visible !important; opacity: 1 !important; transform: none !important; }
"""


def _shop_server(page: str) -> ThreadingHTTPServer:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.django_db(transaction=True)
def test_the_widget_on_a_hostile_shop_page_posts_and_follows_the_call(browser, live_server, settings):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    settings.VOXIMPLANT_CALLBACK_SECRET = "widget-test-secret"  # signs the simulated call's token
    site = SiteFactory(domain="localhost", consent_required=True)  # the shop's origin: localhost:<port>
    ConsentText.objects.create(site=site, version=3, text="Согласен на звонок и обработку данных")
    page = (f'<!doctype html><html lang="ru"><head><style>{HOSTILE_CSS}</style></head><body>'
            f'<p class="shop-note btn">Магазин</p>'
            f'<script src="{live_server.url}/static/widget/leadcaller.js" data-site-key="{site.widget_key}" async>'
            f'</script></body></html>')
    shop = _shop_server(page)
    try:
        browser.get(f"http://localhost:{shop.server_port}/")
        host = WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.TAG_NAME, "leadcaller-widget"))[0]
        root = host.shadow_root
        opener = root.find_element(By.CSS_SELECTOR, "button.open")

        # Rendered whole, where it belongs, in its own look; the shop's element keeps the shop's look.
        assert host.is_displayed() and opener.is_displayed() and opener.text == "☎ Перезвоните мне"
        assert opener.value_of_css_property("background-color") == "rgba(11, 87, 164, 1)"
        assert opener.value_of_css_property("font-size") == "15px"
        rect = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", host)
        size = browser.execute_script("return [innerWidth, innerHeight]")
        assert rect["right"] > size[0] - 40 and rect["bottom"] > size[1] - 40 and rect["width"] > 100
        note = browser.find_element(By.CLASS_NAME, "shop-note")
        assert note.value_of_css_property("background-color") == "rgba(255, 0, 255, 1)"

        # Keyboard: the button opens the form with the phone field focused.
        opener.send_keys(Keys.ENTER)
        phone = root.find_element(By.CSS_SELECTOR, "#lc-phone")
        assert browser.execute_script("return arguments[0].shadowRoot.activeElement.id", host) == "lc-phone"
        submit = root.find_element(By.CSS_SELECTOR, "button.submit")
        error = root.find_element(By.CSS_SELECTOR, "#lc-error")

        submit.click()  # nothing typed
        assert error.text == "Введите номер телефона полностью." and phone.get_attribute("aria-invalid") == "true"
        phone.send_keys("89123456789")
        assert phone.get_attribute("value") == "+7 (912) 345-67-89"
        submit.click()  # consent not ticked
        assert error.text == "Отметьте, пожалуйста, согласие на звонок."
        consent_label = root.find_element(By.CSS_SELECTOR, "label[for=lc-consent]")
        assert consent_label.text == "Согласен на звонок и обработку данных"
        root.find_element(By.CSS_SELECTOR, "#lc-consent").click()
        root.find_element(By.CSS_SELECTOR, "#lc-name").send_keys("Ольга")
        submit.click()

        WebDriverWait(browser, 10).until(lambda d: Lead.objects.exists())
        lead = Lead.objects.get()
        assert (lead.site, lead.phone, lead.name) == (site, "+79123456789", "Ольга")
        assert lead.consent_proof.consent_text.version == 3
        def state() -> str:  # the widget replaces the element as the state changes: read it afresh
            for _ in range(5):
                try:
                    return root.find_element(By.CSS_SELECTOR, ".state").text
                except StaleElementReferenceException:
                    continue
            return root.find_element(By.CSS_SELECTOR, ".state").text
        WebDriverWait(browser, 10).until(lambda d: state() == "Сейчас позвоним")
        assert root.find_element(By.CSS_SELECTOR, "[role=timer]").text.startswith("0:0")

        # Outside calling hours the lead waits: the widget says when we will call, in the visitor's time.
        at = (timezone.now() + timedelta(minutes=30)).replace(second=0, microsecond=0)
        Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.SCHEDULED, scheduled_at=at)
        zone = ZoneInfo(browser.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone"))
        local = at.astimezone(zone)
        expected = "Перезвоним в " + (local.strftime("%H:%M") if local.date() == timezone.now().astimezone(zone).date()
                                      else "")
        WebDriverWait(browser, 10).until(lambda d: state().startswith("Перезвоним в "))
        assert state().startswith(expected)
        assert browser.execute_script("return arguments[0].shadowRoot.querySelector('[role=timer]')", host) is None

        # The call starts, then our scenario reports that a person answered.
        Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.IN_PROGRESS, call_state=Lead.StepState.RUNNING)
        attempt = CallAttemptFactory(lead=lead, status=CallAttempt.Status.STARTED)
        WebDriverWait(browser, 10).until(lambda d: state() == "Звоним вам")
        WebDriverWait(browser, 5).until(  # counting again, from this call
            lambda d: root.find_element(By.CSS_SELECTOR, "[role=timer]").text in ("0:01", "0:02", "0:03"))
        answer = requests.post(f"{live_server.url}/api/v1/telephony/voximplant/callback/", timeout=10, json={
            "attempt_id": attempt.pk, "token": attempt_token(attempt.pk), "result": "human", "duration": 20,
            "digits": "", "call_session_history_id": None, "detail": ""})
        assert answer.status_code == 200, answer.text
        WebDriverWait(browser, 10).until(lambda d: state() == "Мы вам позвонили. Спасибо!")
        assert Lead.objects.get().status == Lead.Status.REACHED
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []

        # The site's admin page previews the widget under the admin's strict CSP, and it sends nothing.
        from django.contrib.auth.models import User

        User.objects.create_superuser("root", password="correct-horse-battery")
        browser.get(f"{live_server.url}/admin/login/?next=/admin/leads/site/{site.pk}/change/")
        browser.find_element(By.NAME, "username").send_keys("root")
        browser.find_element(By.NAME, "password").send_keys("correct-horse-battery")
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        preview = WebDriverWait(browser, 10).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".lc-preview leadcaller-widget"))[0].shadow_root
        WebDriverWait(browser, 10).until(lambda d: preview.find_element(By.CSS_SELECTOR, "#lc-phone").is_displayed())
        preview.find_element(By.CSS_SELECTOR, "#lc-phone").send_keys("9120001122")
        preview.find_element(By.CSS_SELECTOR, "#lc-consent").click()
        preview.find_element(By.CSS_SELECTOR, "button.submit").click()
        assert preview.find_element(By.CSS_SELECTOR, "#lc-error").text == "Preview: nothing is sent."
        assert Lead.objects.count() == 1
        assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
                or "Content Security Policy" in e["message"]] == []
    finally:
        shop.shutdown()
        shop.server_close()
