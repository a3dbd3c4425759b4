"""One request cannot carry a burst: every op of a Corezoid envelope counts against the throttles like a
post of its own, ops per request are capped, and what was refused is counted for the dashboard."""

from __future__ import annotations

import json

import pytest

from leads.models import IntakeCounter, Lead
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def envelope(phones: list[str], *, host: str = "shop.example") -> dict:
    return {"ops": [{"ref": f"{phone}-{i}", "type": "create", "obj": "task", "conv_id": "1",
                     "data": {"server": {"HTTP_HOST": host}, "cookies": [], "post": {"phone": phone}}}
                    for i, phone in enumerate(phones)]}


def post_envelope(api, body: dict, query: str = ""):
    return api.generic("POST", f"/api/v1/leads/{query}", json.dumps(body), content_type="application/x-www-form-urlencoded")


def phones(count: int, start: int = 0) -> list[str]:
    return [f"+7912{n:07d}" for n in range(start, start + count)]


@pytest.fixture
def site(db):
    return SiteFactory(domain="shop.example")


def test_the_probe_of_300_ops_in_one_request_is_refused_whole_and_stores_nothing(api, site):
    response = post_envelope(api, envelope(phones(300)))

    assert response.status_code == 413
    assert response.json() == {"request_proc": "error", "description": "At most 10 leads (ops) in one request."}
    assert not Lead.objects.exists()
    assert IntakeCounter.objects.get(kind="too_many_ops").count == 1


def test_the_cap_on_ops_per_request_is_a_setting(api, site, settings):
    settings.INTAKE_MAX_OPS = 2

    assert post_envelope(api, envelope(phones(3))).status_code == 413
    assert post_envelope(api, envelope(phones(2))).status_code == 200
    assert Lead.objects.count() == 2


def test_each_op_takes_a_place_of_the_per_ip_allowance(api, site, settings):
    settings.THROTTLE_PER_IP = "5/min"

    first = post_envelope(api, envelope(phones(4)))
    too_many = post_envelope(api, envelope(phones(2, start=10)))  # one place is left, two are asked
    last = post_envelope(api, envelope(phones(1, start=20)))

    assert first.status_code == 200 and [op["proc"] for op in first.json()["ops"]] == ["ok"] * 4
    assert too_many.status_code == 429 and int(too_many["Retry-After"]) > 0
    assert last.status_code == 200
    assert Lead.objects.count() == 5
    assert not Lead.objects.filter(phone__in=phones(2, start=10)).exists()


def test_keyed_envelopes_count_each_op_against_the_sites_allowance(api, site, settings):
    settings.THROTTLE_PER_SITE = "3/min"

    assert post_envelope(api, envelope(phones(3)), f"?key={site.intake_key}").status_code == 200
    assert post_envelope(api, envelope(phones(1, start=5)), f"?key={site.intake_key}").status_code == 429
    assert IntakeCounter.objects.get(kind="throttled_site", site=site).count == 1


def test_each_op_counts_against_its_phones_allowance(api, site, settings):
    settings.THROTTLE_PER_PHONE = "2/hour"

    body = post_envelope(api, envelope(["+79120001122"] * 3)).json()

    assert [op["proc"] for op in body["ops"]] == ["ok", "ok", "error"]
    assert Lead.objects.count() == 2


def test_a_burst_of_distinct_numbers_from_one_address_is_refused_and_counted_by_reason(api, site, settings):
    settings.THROTTLE_PER_IP = "3/min"
    codes = [api.post("/api/v1/leads/", {"phone": phone}, format="json", HTTP_ORIGIN="https://shop.example").status_code
             for phone in phones(8)]

    assert codes == [201] * 3 + [429] * 5
    assert IntakeCounter.objects.get(kind="throttled_ip", site=None).count == 5
