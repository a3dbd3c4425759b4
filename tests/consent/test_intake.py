"""POST /api/v1/leads/ with consent: the flag in every body the intake reads, the site's rule, the
text a visitor was shown, and the proof stored with the lead."""

from __future__ import annotations

import json

import pytest

from consent.models import ConsentProof, ConsentText
from consent.services import consent_text_add
from leads.models import IntakeCounter, Lead
from tests.conftest import post_json
from tests.factories import SiteFactory
from tests.leads.test_corezoid_envelope import php_envelope, post_like_curl_data

pytestmark = pytest.mark.django_db
PHONE = "+79123456789"
BROWSER = {"HTTP_ORIGIN": "https://shop.example", "HTTP_USER_AGENT": "Mozilla/5.0 (Test)",
           "HTTP_REFERER": "https://shop.example/", "REMOTE_ADDR": "198.51.100.7"}


@pytest.fixture
def text(site) -> ConsentText:
    consent_text_add(site=site, text="I agree to be called (v1).")
    return consent_text_add(site=site, text="I agree to be called about my order, also by a robot (v2).")


@pytest.fixture
def required(settings):
    settings.CONSENT_REQUIRED = True


@pytest.mark.parametrize("value", [True, "true", "TRUE", "1", 1, "on", "yes", " Yes "])
def test_each_way_of_saying_yes_stores_the_proof_with_the_sites_current_text(api, site, text, value):
    response = post_json(api, {"phone": PHONE, "consent": value, "page": "https://shop.example/kettle?x=1"}, **BROWSER)

    assert response.status_code == 201
    proof = Lead.objects.get(public_id=response.json()["id"]).consent_proof
    assert (proof.site, proof.consent_text, proof.version, proof.text) == (site, text, 2, text.text)
    assert (str(proof.ip), proof.user_agent) == ("198.51.100.7", "Mozilla/5.0 (Test)")
    assert (proof.page_url, proof.page_source) == ("https://shop.example/kettle?x=1", "form")
    assert abs((proof.given_at - proof.lead.created_at).total_seconds()) < 2


@pytest.mark.parametrize("value", [False, "false", "0", 0, "off", "no", "", "maybe", None, 2])
def test_anything_else_is_no_consent_and_the_lead_is_stored_without_proof_where_none_is_required(
        api, site, text, value):
    response = post_json(api, {"phone": PHONE, "consent": value}, **BROWSER)

    assert response.status_code == 201
    assert not ConsentProof.objects.exists() and Lead.objects.count() == 1


@pytest.mark.parametrize("value", [{"given": True}, ["yes"], {}])
def test_a_consent_that_is_an_object_or_a_list_is_400_and_stores_nothing(api, site, required, value):
    response = post_json(api, {"phone": PHONE, "consent": value}, **BROWSER)

    assert response.status_code == 400
    assert "consent" in response.json()
    assert not Lead.objects.exists() and not ConsentProof.objects.exists()


@pytest.mark.parametrize("version", ["two", "1.5", 0, -1, 2**31, {"v": 1}])
def test_a_malformed_consent_version_is_400(api, site, text, version):
    response = post_json(api, {"phone": PHONE, "consent": True, "consent_version": version}, **BROWSER)

    assert response.status_code == 400 and "consent_version" in response.json()
    assert not Lead.objects.exists()


def test_a_named_version_is_the_text_proven(api, site, text):
    response = post_json(api, {"phone": PHONE, "consent": "yes", "consent_version": "1"}, **BROWSER)

    proof = Lead.objects.get(public_id=response.json()["id"]).consent_proof
    assert (proof.version, proof.text) == (1, "I agree to be called (v1).")


@pytest.mark.parametrize("given", [True, False])
def test_a_version_the_site_does_not_have_is_422_naming_the_field_and_stores_nothing(api, site, text, given):
    other = SiteFactory(domain="other.example")
    consent_text_add(site=other, text="another site's text")
    consent_text_add(site=other, text="another site's text, v2")
    consent_text_add(site=other, text="another site's text, v3")

    response = post_json(api, {"phone": PHONE, "consent": given, "consent_version": 3}, **BROWSER)

    assert response.status_code == 422
    assert response.json() == {"consent_version": ["This site has no consent text version 3."]}
    assert not Lead.objects.exists() and not ConsentProof.objects.exists()


def test_a_form_that_keeps_its_own_text_posts_it_and_that_text_is_proven(api, site, text):
    response = post_json(api, {"phone": PHONE, "consent": "on", "consent_text": "  Звоните мне, я согласен.  "},
                         **BROWSER)

    proof = Lead.objects.get(public_id=response.json()["id"]).consent_proof
    assert (proof.consent_text, proof.text) == (None, "Звоните мне, я согласен.")


def test_a_named_version_wins_over_a_posted_text(api, site, text):
    response = post_json(api, {"phone": PHONE, "consent": "on", "consent_version": 2, "consent_text": "other"},
                         **BROWSER)

    assert Lead.objects.get(public_id=response.json()["id"]).consent_proof.text == text.text


def test_a_site_without_texts_and_a_form_without_one_keeps_the_proof_with_an_empty_text(api, site):
    response = post_json(api, {"phone": PHONE, "consent": "yes"}, **BROWSER)

    proof = Lead.objects.get(public_id=response.json()["id"]).consent_proof
    assert (proof.text, proof.consent_text) == ("", None)


def test_where_consent_is_required_a_lead_without_it_is_422_and_stores_and_counts_nothing_else(api, site, required):
    for body in ({"phone": PHONE}, {"phone": PHONE, "consent": "no"}):
        response = post_json(api, body, **BROWSER)

        assert response.status_code == 422
        assert list(response.json()) == ["consent"] and "consent=true" in response.json()["consent"][0]
    assert not Lead.objects.exists() and not ConsentProof.objects.exists()
    assert IntakeCounter.objects.get(kind=IntakeCounter.Kind.NO_CONSENT, site=site).count == 2


def test_where_consent_is_required_a_lead_with_it_is_stored(api, site, required, text):
    response = post_json(api, {"phone": PHONE, "consent": True}, **BROWSER)

    assert response.status_code == 201
    assert str(ConsentProof.objects.get().lead.public_id) == response.json()["id"]


def test_a_site_can_require_consent_when_the_global_setting_does_not(api, site, settings):
    settings.CONSENT_REQUIRED = False
    site.consent_required = True
    site.save()
    SiteFactory(domain="other.example")

    assert post_json(api, {"phone": PHONE}, **BROWSER).status_code == 422
    assert post_json(api, {"phone": PHONE}, HTTP_ORIGIN="https://other.example").status_code == 201


def test_a_site_can_waive_consent_when_the_global_setting_requires_it(api, site, required):
    site.consent_required = False
    site.save()

    assert post_json(api, {"phone": PHONE}, **BROWSER).status_code == 201


def test_a_form_post_carries_consent_as_a_checkbox_does(api, site, required, text):
    ok = api.post("/api/v1/leads/", {"phone": PHONE, "consent": "on", "consent_version": "2"}, **BROWSER)
    unticked = api.post("/api/v1/leads/", {"phone": "+79120001122", "consent_version": ""}, **BROWSER)

    assert ok.status_code == 201 and unticked.status_code == 422
    assert Lead.objects.get().consent_proof.version == 2


def test_a_multipart_post_carries_consent(api, site, required, text):
    response = api.post("/api/v1/leads/", {"phone": PHONE, "consent": "yes", "consent_text": "my own words"},
                        format="multipart", **BROWSER)

    assert response.status_code == 201
    assert Lead.objects.get().consent_proof.text == "my own words"


def test_each_op_of_an_envelope_is_judged_on_its_own_and_answered_in_the_envelopes_shape(api, site, required, text):
    given = php_envelope({"phone": PHONE, "consent": "1"}, ref="a")["ops"][0]
    missing = php_envelope({"phone": "+79120001122"}, ref="b")["ops"][0]
    unknown = php_envelope({"phone": "+79120003344", "consent": "1", "consent_version": "9"}, ref="c")["ops"][0]

    response = post_like_curl_data(api, {"ops": [given, missing, unknown]})

    assert response.status_code == 200
    ops = response.json()["ops"]
    assert [op["proc"] for op in ops] == ["ok", "error", "error"]
    assert ops[1]["errors"] == {"consent": [ops[1]["description"]]} and "consent=true" in ops[1]["description"]
    assert ops[2]["description"] == "This site has no consent text version 9." and "consent_version" in ops[2]["errors"]
    assert Lead.objects.get().ref == "a"
    assert Lead.objects.get().consent_proof.version == 2


def test_a_malformed_consent_in_an_envelope_is_that_ops_field_error(api, site):
    response = post_like_curl_data(api, php_envelope({"phone": PHONE, "consent": {"yes": 1}}))

    op = response.json()["ops"][0]
    assert op["proc"] == "error" and "consent" in op["errors"]
    assert not Lead.objects.exists()


def test_without_the_key_an_envelopes_visitor_is_not_believed_in_the_proof(api, site, text):
    response = api.generic("POST", "/api/v1/leads/", json.dumps(php_envelope({"phone": PHONE, "consent": "yes"})),
                           content_type="application/x-www-form-urlencoded", REMOTE_ADDR="192.0.2.44",
                           HTTP_USER_AGENT="curl/8.5.0")

    assert response.json()["ops"][0]["proc"] == "ok"
    proof = ConsentProof.objects.get()
    assert (str(proof.ip), proof.user_agent, proof.page_url) == ("192.0.2.44", "curl/8.5.0", "")


def test_with_the_key_the_envelopes_visitor_address_browser_and_page_are_the_proof(api, site, text):
    body = json.dumps(php_envelope({"phone": PHONE, "consent": "yes", "page": "https://shop.example/other"}))
    api.generic("POST", f"/api/v1/leads/?key={site.intake_key}", body,
                content_type="application/x-www-form-urlencoded")

    proof = ConsentProof.objects.get()
    assert (str(proof.ip), proof.user_agent) == ("203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)")
    assert (proof.page_url, proof.page_source) == ("https://www.shop.example/catalog/kettle", "envelope")


def test_with_the_key_a_surrogate_or_nul_in_the_envelopes_fields_is_stored_replaced(api, site):
    envelope = php_envelope({"phone": PHONE, "consent": "yes"})
    envelope["ops"][0]["data"]["server"].update(HTTP_REFERER="https://shop.example/\ud800\x00", HTTP_USER_AGENT="UA\ud800")
    response = api.generic("POST", f"/api/v1/leads/?key={site.intake_key}", json.dumps(envelope),
                           content_type="application/json")

    assert response.json()["ops"][0]["proc"] == "ok"
    proof = ConsentProof.objects.get()
    assert "\x00" not in proof.page_url and proof.page_url.startswith("https://shop.example/")
    assert proof.user_agent == proof.lead.user_agent == "UA\ufffd"


@pytest.mark.parametrize(("page", "referer", "expected"), [
    ("https://evil.example/phish", "https://shop.example/", ("https://shop.example/", "referer")),
    ("https://www.shop.example/cart", "https://shop.example/", ("https://www.shop.example/cart", "form")),
    ("https://m.shop.example/cart", "", ("https://m.shop.example/cart", "form")),
    ("javascript:alert(1)", "", ("", "")),
    ("", "https://shop.example/landing", ("https://shop.example/landing", "referer")),
])
def test_without_the_key_a_posted_page_counts_only_on_the_sites_own_host(api, site, page, referer, expected):
    headers = {**BROWSER, "HTTP_REFERER": referer} if referer else {k: v for k, v in BROWSER.items()
                                                                    if k != "HTTP_REFERER"}
    post_json(api, {"phone": PHONE, "consent": True, "page": page}, **headers)

    proof = ConsentProof.objects.get()
    assert (proof.page_url, proof.page_source) == expected


def test_a_duplicate_post_leaves_the_first_leads_proof_as_it_was(api, site, text):
    first = post_json(api, {"phone": PHONE, "consent": True, "consent_version": 1}, **BROWSER).json()
    second = post_json(api, {"phone": PHONE, "consent": True, "consent_version": 2}, **BROWSER).json()

    assert second == {"id": first["id"], "duplicate": True}
    assert ConsentProof.objects.get().version == 1


def test_the_timeline_says_whether_consent_came_with_the_lead(api, site):
    post_json(api, {"phone": PHONE, "consent": True}, **BROWSER)

    assert Lead.objects.get().events.get(kind="received").data["consent"] is True
