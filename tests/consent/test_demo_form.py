"""The demo form on the home page: the consent box with the site's text, posted as the API reads it."""

from __future__ import annotations

import pytest

from consent.models import ConsentProof
from consent.services import consent_text_add
from demo.form import DEFAULT_TEXT
from leads.models import Lead
from tests.factories import SiteFactory


@pytest.mark.django_db
def test_the_form_shows_the_sites_current_text_beside_an_unticked_box_and_posts_its_version(client, settings):
    settings.ALLOWED_HOSTS = ["www.shop.example"]
    site = SiteFactory(domain="shop.example")
    consent_text_add(site=site, text="Old words.")
    consent_text_add(site=site, text="Звоните мне <по делу> & только по делу.")

    html = client.get("/", HTTP_HOST="www.shop.example").content.decode()

    assert '<input type="checkbox" name="consent" value="yes">' in html
    assert "Звоните мне &lt;по делу&gt; &amp; только по делу." in html and "Old words." not in html
    assert '<input type="hidden" name="consent_version" value="2">' in html and 'name="consent_text"' not in html


@pytest.mark.django_db
def test_without_a_text_of_the_sites_own_the_form_shows_and_posts_the_default_one(client):
    html = client.get("/").content.decode()

    assert '<input type="checkbox" name="consent" value="yes">' in html
    assert f'<input type="hidden" name="consent_text" value="{DEFAULT_TEXT}">' in html.replace("&#x27;", "'")


@pytest.mark.django_db(transaction=True)
def test_a_visitor_who_ticks_the_box_is_stored_with_the_proof_and_one_who_does_not_is_told(
        browser, live_server, settings):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings.CONSENT_REQUIRED = True
    site = SiteFactory(domain="localhost")  # the demo form's own origin, as `make run` registers it
    text = consent_text_add(site=site, text="I agree to a call from the demo shop.")
    url = f"{live_server.url.replace('127.0.0.1', 'localhost')}/?from=test"

    def submit(phone: str, tick: bool) -> str:
        browser.get(url)
        browser.find_element(By.NAME, "phone").send_keys(phone)
        if tick:
            browser.find_element(By.NAME, "consent").click()
        browser.find_element(By.CSS_SELECTOR, "#lead-form button").click()
        return WebDriverWait(browser, 15).until(
            lambda driver: (shown := driver.find_element(By.ID, "lead-result").text) != "…" and shown)

    refused = submit("+7 912 345-67-89", tick=False)
    assert "consent" in refused and not Lead.objects.exists()

    assert submit("+7 912 345-67-89", tick=True).startswith("Thank you!")
    proof = ConsentProof.objects.get()
    assert (proof.consent_text, proof.text, proof.page_url, proof.page_source) == (text, text.text, url, "form")
    assert "Chrome" in proof.user_agent
