"""The Corezoid task envelope, as the shops' PHP form script sends it today."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from leads.models import Lead
from tests.factories import PartnerRuleFactory, SiteFactory

pytestmark = pytest.mark.django_db


def php_envelope(post: dict, *, ref: str = "203.0.113.7", host: str = "www.shop.example", cookies=None) -> dict:
    """What `json_encode` makes of the template's $full object for one form post."""
    server = {
        "HTTP_HOST": host,
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64)",
        "HTTP_REFERER": f"https://{host}/catalog/kettle",
        "REMOTE_ADDR": ref,
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/send.php",
    }
    data = {"server": server, "cookies": cookies if cookies is not None else [], "post": post}
    return {"ops": [{"ref": ref, "type": "create", "obj": "task", "conv_id": "31754", "data": data}]}


def post_like_curl_data(api, envelope: dict):
    # `curl --data` labels the JSON body application/x-www-form-urlencoded.
    return api.generic("POST", "/api/v1/leads/", json.dumps(envelope), content_type="application/x-www-form-urlencoded")


def test_envelope_lead_is_stored_and_answered_in_corezoid_shape():
    site = SiteFactory(domain="shop.example")
    from rest_framework.test import APIClient

    response = post_like_curl_data(APIClient(), php_envelope({"name": "Анна", "phone": "+7 (912) 345-67-89"}))

    assert response.status_code == 200
    body = response.json()
    lead = Lead.objects.get()
    assert body == {
        "request_proc": "ok",
        "ops": [{"proc": "ok", "obj": "task", "ref": "203.0.113.7", "obj_id": str(lead.public_id), "duplicate": False}],
    }
    assert (lead.site, lead.name, lead.phone, lead.ref) == (site, "Анна", "+79123456789", "203.0.113.7")
    assert lead.raw_request["conv_id"] == "31754"
    # Without the site's key the envelope's word on the visitor is kept as received, not believed.
    assert str(lead.client_ip) == "127.0.0.1"
    assert lead.raw_request["data"]["server"]["REMOTE_ADDR"] == "203.0.113.7"


def test_with_the_sites_key_the_envelopes_visitor_address_and_browser_are_recorded(api):
    site = SiteFactory(domain="shop.example")
    api.generic("POST", f"/api/v1/leads/?key={site.intake_key}", json.dumps(php_envelope({"phone": "+79123456789"})),
                content_type="application/x-www-form-urlencoded")

    lead = Lead.objects.get()
    assert str(lead.client_ip) == "203.0.113.7"
    assert lead.user_agent.startswith("Mozilla/5.0")


def test_without_the_key_an_envelope_cannot_forge_the_visitors_address_or_browser(api):
    SiteFactory(domain="shop.example")
    api.generic("POST", "/api/v1/leads/", json.dumps(php_envelope({"phone": "+79123456789"}, ref="198.51.100.1")),
                content_type="application/x-www-form-urlencoded", HTTP_USER_AGENT="curl/8.5.0",
                REMOTE_ADDR="192.0.2.44")

    lead = Lead.objects.get()
    assert (str(lead.client_ip), lead.user_agent) == ("192.0.2.44", "curl/8.5.0")


def test_an_envelopes_host_cannot_name_a_site_that_requires_its_key(api):
    SiteFactory(domain="shop.example", require_key=True)

    response = post_like_curl_data(api, php_envelope({"phone": "+79123456789"}))

    assert response.json()["ops"][0]["proc"] == "error"
    assert not Lead.objects.exists()


def test_an_envelopes_host_cannot_override_the_browsers_origin(api):
    SiteFactory(domain="shop.example")
    response = api.generic("POST", "/api/v1/leads/", json.dumps(php_envelope({"phone": "+79123456789"})),
                           content_type="application/json", HTTP_ORIGIN="https://evil.example")

    assert response.json()["ops"][0]["proc"] == "ok"
    lead = Lead.objects.get()
    assert lead.site.is_default and lead.site_unknown  # stored, and (UNKNOWN_SITES=store) never dialled


def test_envelope_reads_utm_and_partner_from_cookies_when_the_form_has_none(api):
    SiteFactory(domain="shop.example")
    partner = PartnerRuleFactory(kind="utm_source", value="admitad").partner
    post_like_curl_data(api, php_envelope({"phone": "+79120001122"}, cookies={"utm_source": "admitad", "utm_medium": "cpa"}))

    lead = Lead.objects.get()
    assert (lead.utm_source, lead.utm_medium, lead.partner) == ("admitad", "cpa", partner)


def test_envelope_with_same_ref_while_first_is_open_is_a_duplicate(api):
    SiteFactory(domain="shop.example")
    first = post_like_curl_data(api, php_envelope({"phone": "+79120001122"})).json()["ops"][0]
    second = post_like_curl_data(api, php_envelope({"phone": "+79990000000"})).json()["ops"][0]

    assert second["proc"] == "ok" and second["duplicate"] is True
    assert second["obj_id"] == first["obj_id"]
    assert Lead.objects.count() == 1


def test_invalid_op_gets_an_error_proc_and_the_valid_op_is_still_stored(api):
    SiteFactory(domain="shop.example")
    good = php_envelope({"phone": "+79120001122"}, ref="a")["ops"][0]
    bad = php_envelope({"phone": "nope"}, ref="b")["ops"][0]
    wrong_type = {**php_envelope({"phone": "+79123330000"}, ref="c")["ops"][0], "type": "modify"}

    body = post_like_curl_data(api, {"ops": [good, bad, wrong_type]}).json()

    assert body["request_proc"] == "ok"
    assert [op["proc"] for op in body["ops"]] == ["ok", "error", "error"]
    assert "phone" in body["ops"][1]["errors"]
    assert body["ops"][1]["ref"] == "b"
    assert Lead.objects.count() == 1


@pytest.mark.parametrize("ref", ["a\x00b", "r" * 201, {"nested": 1}])
def test_an_op_ref_that_cannot_be_stored_is_an_op_error_and_stores_nothing(api, ref):
    SiteFactory(domain="shop.example")
    op = php_envelope({"phone": "+79120001122"})["ops"][0]

    body = post_like_curl_data(api, {"ops": [{**op, "ref": ref}]}).json()

    assert body["ops"][0]["proc"] == "error"
    assert "ref" in body["ops"][0]["errors"]
    assert not Lead.objects.exists()


@pytest.mark.parametrize("envelope", [{"ops": []}, {"ops": "x"}, {"ops": None}])
def test_envelope_without_ops_is_400_in_corezoid_shape(api, envelope):
    response = post_like_curl_data(api, envelope)

    assert response.status_code == 400
    assert response.json()["request_proc"] == "error"


def test_envelope_posted_as_application_json_works_too(api):
    SiteFactory(domain="shop.example")
    response = api.post("/api/v1/leads/", php_envelope({"phone": "+79120001122"}), format="json")

    assert response.json()["ops"][0]["proc"] == "ok"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.django_db(transaction=True)
def test_the_template_php_snippet_command_works_by_changing_only_the_url(live_server):
    """The template's exact curl command line, with our URL in place of Corezoid's."""
    SiteFactory(domain="shop.example")
    cmd = json.dumps(php_envelope({"name": "Олег", "phone": "89123456789", "comment": "it's urgent"}))
    result = subprocess.run(
        ["curl", "-s", f"{live_server.url}/api/v1/leads/",
         "-H", "Accept: application/json, text/javascript, */*; q=0.01", "--data", cmd, "--compressed"],
        capture_output=True, text=True, timeout=30, check=True,
    )

    body = json.loads(result.stdout)
    assert body["request_proc"] == "ok" and body["ops"][0]["proc"] == "ok"
    lead = Lead.objects.get()
    assert (lead.name, lead.phone, lead.comment) == ("Олег", "+79123456789", "it's urgent")
