"""Abuse guards on intake: intake keys, the honeypot, throttles, CORS."""

from __future__ import annotations

import pytest

from leads.models import IntakeCounter, Lead
from tests.conftest import post_json
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
ORIGIN = {"HTTP_ORIGIN": "https://shop.example"}


# --- intake keys ------------------------------------------------------------------------------
def test_site_that_requires_its_key_refuses_a_post_without_it(api):
    SiteFactory(domain="shop.example", require_key=True)
    response = post_json(api, {"phone": "+79120001122"}, **ORIGIN)

    assert response.status_code == 403
    assert not Lead.objects.exists()


@pytest.mark.parametrize("how", ["header", "query"])
def test_site_that_requires_its_key_accepts_it_in_header_or_query(api, how):
    site = SiteFactory(domain="shop.example", require_key=True)
    if how == "header":
        response = api.post("/api/v1/leads/", {"phone": "+79120001122"}, format="json",
                            HTTP_X_LEADCALLER_KEY=site.intake_key)
    else:
        response = api.post(f"/api/v1/leads/?key={site.intake_key}", {"phone": "+79120001122"}, format="json")

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.site == site
    assert "key" not in lead.raw_request["query"]


def test_wrong_key_is_403_even_where_no_key_is_required(api, site):
    response = post_json(api, {"phone": "+79120001122"}, HTTP_X_LEADCALLER_KEY="guess", **ORIGIN)

    assert response.status_code == 403
    assert not Lead.objects.exists()


@pytest.mark.parametrize("key", ["a%00b", "k" * 65])
def test_a_key_that_no_site_could_have_is_403_and_stores_nothing(api, site, key):
    response = api.post(f"/api/v1/leads/?key={key}", {"phone": "+79120001122"}, format="json", **ORIGIN)

    assert response.status_code == 403
    assert not Lead.objects.exists()


def test_key_of_an_inactive_site_is_refused(api):
    site = SiteFactory(domain="shop.example", is_active=False)
    response = post_json(api, {"phone": "+79120001122"}, HTTP_X_LEADCALLER_KEY=site.intake_key)

    assert response.status_code == 403


# --- honeypot ---------------------------------------------------------------------------------
def test_filled_honeypot_is_answered_like_a_new_lead_but_stores_nothing_and_is_counted(api, site):
    real = post_json(api, {"phone": "+79120003344"}, **ORIGIN)
    response = post_json(api, {"phone": "+79120001122", "hp_website": "http://spam.example"}, **ORIGIN)

    assert response.status_code == real.status_code == 201  # a bot cannot tell the two apart
    assert set(response.json()) == set(real.json()) and response.json()["duplicate"] is False
    Lead.objects.filter(phone="+79120003344").delete()
    assert not Lead.objects.exists()
    assert IntakeCounter.objects.get(kind="honeypot", site=site).count == 1


def test_empty_honeypot_is_a_normal_lead(api, site):
    response = post_json(api, {"phone": "+79120001122", "hp_website": ""}, **ORIGIN)

    assert response.status_code == 201
    assert "hp_website" not in Lead.objects.get().extra


# --- throttles --------------------------------------------------------------------------------
def test_posts_from_one_ip_over_the_rate_are_429_with_retry_after(api, site, settings):
    settings.THROTTLE_PER_IP = "3/min"
    codes = [post_json(api, {"phone": f"+7912000112{i}"}, **ORIGIN).status_code for i in range(5)]

    assert codes == [201, 201, 201, 429, 429]
    assert Lead.objects.count() == 3
    assert int(post_json(api, {"phone": "+79120001199"}, **ORIGIN)["Retry-After"]) > 0


def test_ip_throttle_can_be_switched_off(api, site, settings):
    settings.THROTTLE_PER_IP = None
    codes = {post_json(api, {"phone": f"+7912000112{i}"}, **ORIGIN).status_code for i in range(5)}

    assert codes == {201}


def test_one_phone_over_its_rate_is_429_whatever_the_ip_and_ref(api, site, settings):
    settings.THROTTLE_PER_PHONE = "2/hour"
    codes = [
        post_json(api, {"phone": "+79120001122", "ref": f"r{i}"}, REMOTE_ADDR=f"198.51.100.{i}", **ORIGIN).status_code
        for i in range(4)
    ]

    assert codes == [201, 201, 429, 429]
    assert IntakeCounter.objects.get(kind="throttled").count == 2


def test_keyed_server_posts_are_limited_per_site_not_per_ip(api, settings):
    settings.THROTTLE_PER_IP = "1/min"
    settings.THROTTLE_PER_SITE = "3/min"
    site = SiteFactory(domain="shop.example")
    codes = [
        api.post("/api/v1/leads/", {"phone": f"+7912000112{i}"}, format="json",
                 HTTP_X_LEADCALLER_KEY=site.intake_key).status_code
        for i in range(4)
    ]

    assert codes == [201, 201, 201, 429]


def test_client_ip_honours_num_proxies(api, site, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    post_json(api, {"phone": "+79120001122"}, HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.1", **ORIGIN)

    assert str(Lead.objects.get().client_ip) == "10.0.0.1"


def test_without_proxies_a_forged_forwarded_for_neither_names_the_client_nor_escapes_the_ip_limit(api, site, settings):
    settings.THROTTLE_PER_IP = "2/min"
    codes = [post_json(api, {"phone": f"+7912000112{i}"}, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}", **ORIGIN).status_code
             for i in range(3)]

    assert codes == [201, 201, 429]
    assert {str(lead.client_ip) for lead in Lead.objects.all()} == {"127.0.0.1"}


# --- CORS -------------------------------------------------------------------------------------
def test_preflight_from_an_active_sites_domain_is_allowed(api, site):
    response = api.options("/api/v1/leads/", HTTP_ORIGIN="https://www.shop.example",
                           HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                           HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type")

    assert response["Access-Control-Allow-Origin"] == "https://www.shop.example"


@pytest.mark.parametrize("origin", ["https://evil.example", "https://shop.example.evil.example"])
def test_preflight_from_other_origins_gets_no_cors_headers(api, site, origin):
    response = api.options("/api/v1/leads/", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")

    assert "Access-Control-Allow-Origin" not in response


def preflight(api, origin: str):
    return api.options("/api/v1/leads/", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")


def test_a_site_added_or_switched_off_changes_cors_at_once(api, site):
    assert "Access-Control-Allow-Origin" not in preflight(api, "https://new.example")  # the list is read now
    new = SiteFactory(domain="new.example")
    assert preflight(api, "https://new.example")["Access-Control-Allow-Origin"] == "https://new.example"

    new.is_active = False
    new.save()
    assert "Access-Control-Allow-Origin" not in preflight(api, "https://new.example")
    new.delete()
    site.delete()
    assert "Access-Control-Allow-Origin" not in preflight(api, "https://www.shop.example")


def test_posts_from_a_browser_read_the_site_list_from_redis_once_in_a_while(api, site, monkeypatch):
    """Each process keeps the list for a few seconds: a burst of posts is not a round trip to Redis each."""
    from django.core.cache import caches

    from leads import selectors

    reads: list[str] = []
    default = caches["default"]
    monkeypatch.setattr(default, "get", lambda key, *a, **kw: reads.append(key) or None)
    clock = [100.0]
    monkeypatch.setattr(selectors.time, "monotonic", lambda: clock[0])
    for _ in range(3):
        assert preflight(api, "https://www.shop.example")["Access-Control-Allow-Origin"] == "https://www.shop.example"
    clock[0] += 6  # its copy is older than five seconds now
    preflight(api, "https://www.shop.example")

    assert reads.count("leads:active-site-domains") == 2


def test_cors_is_not_opened_on_other_urls(api, site):
    response = api.get("/healthz", HTTP_ORIGIN="https://shop.example")

    assert "Access-Control-Allow-Origin" not in response
