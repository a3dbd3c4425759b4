"""The widget's reads: GET /api/v1/leads/status/ (one's own lead: state and next call, nothing else)
and GET /api/v1/widget/config/ (the site's public settings)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from consent.models import ConsentText
from leads.models import Lead
from leads.status import status_token_make
from telephony.models import CallAttempt
from tests.conftest import post_json
from tests.factories import CallAttemptFactory, LeadFactory

pytestmark = pytest.mark.django_db
ORIGIN = {"HTTP_ORIGIN": "https://shop.example"}


def _status(api, token, **headers):
    return api.get("/api/v1/leads/status/", {"token": token}, **headers)


def _new_lead(api) -> tuple[Lead, str]:
    body = post_json(api, {"phone": "+7 912 345-67-89"}, **ORIGIN).json()
    return Lead.objects.get(public_id=body["id"]), body["status_token"]


def test_intake_hands_out_a_token_that_shows_only_state_and_next_call(api, site):
    lead, token = _new_lead(api)

    response = _status(api, token, **ORIGIN)

    assert response.status_code == 200
    assert response.json() == {"state": "waiting", "next_call_at": None}
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"


def test_the_state_follows_the_call(api, site):
    lead, token = _new_lead(api)
    attempt = CallAttemptFactory(lead=lead, status=CallAttempt.Status.STARTED)
    assert _status(api, token).json()["state"] == "calling"

    at = timezone.now() + timedelta(hours=10)
    CallAttempt.objects.filter(pk=attempt.pk).update(status=CallAttempt.Status.FINISHED, outcome="no_answer")
    Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.SCHEDULED, scheduled_at=at)
    body = _status(api, token).json()
    assert body["state"] == "scheduled" and body["next_call_at"] == at.isoformat().replace("+00:00", "Z")

    for status, state in [(Lead.Status.REACHED, "reached"), (Lead.Status.MANUAL, "manual"),
                          (Lead.Status.OPTED_OUT, "closed"), (Lead.Status.HANDLED, "closed")]:
        Lead.objects.filter(pk=lead.pk).update(status=status)
        assert _status(api, token).json() == {"state": state, "next_call_at": None}


@pytest.mark.parametrize("token", ["", "nonsense", "a" * 5000,
                                   signing.TimestampSigner(salt="other").sign("0" * 32)])
def test_a_token_we_did_not_make_is_404(api, site, token):
    LeadFactory(site=site)
    assert _status(api, token).status_code == 404


def test_a_token_for_one_lead_says_nothing_of_another_and_an_old_token_expires(api, site, settings):
    lead, token = _new_lead(api)
    other = LeadFactory(site=site, status=Lead.Status.REACHED)
    forged = token.replace(lead.public_id.hex, other.public_id.hex)

    assert _status(api, forged).status_code == 404
    settings.STATUS_TOKEN_HOURS = 0  # nothing stays good for "0 hours"
    assert _status(api, status_token_make(lead.public_id)).status_code == 404


def test_status_reads_are_rate_limited_per_address(api, site, settings):
    settings.THROTTLE_STATUS = "3/min"
    _, token = _new_lead(api)

    codes = [_status(api, token).status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]


def test_a_duplicate_without_the_key_gets_no_token(api, site):
    _new_lead(api)
    body = post_json(api, {"phone": "+7 912 345-67-89"}, **ORIGIN).json()

    assert body["duplicate"] is True and "status_token" not in body


def test_the_widget_config_gives_the_sites_consent_text_and_phone_prefix(api, site):
    site.consent_required = True
    site.phone_region = "KZ"
    site.save()
    ConsentText.objects.create(site=site, version=1, text="Old")
    ConsentText.objects.create(site=site, version=2, text="Я согласен на звонок")

    response = api.get("/api/v1/widget/config/", {"key": site.widget_key}, **ORIGIN)

    assert response.status_code == 200
    assert response.json() == {"consent_required": True, "consent_text": "Я согласен на звонок",
                                "consent_version": 2, "phone_region": "KZ", "phone_prefix": "+7",
                                "honeypot_field": "hp_website"}
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"


@pytest.mark.parametrize("key", ["", "pk_nope", "\x00", "x" * 300])
def test_an_unknown_or_odd_widget_key_is_404(api, site, key):
    assert api.get("/api/v1/widget/config/", {"key": key}).status_code == 404


def test_an_inactive_sites_widget_key_is_404(api, site):
    site.is_active = False
    site.save()
    assert api.get("/api/v1/widget/config/", {"key": site.widget_key}).status_code == 404


def test_the_schema_documents_the_status_endpoint(api):
    schema = api.get("/api/schema/?format=json").json()
    status = schema["paths"]["/api/v1/leads/status/"]["get"]
    assert set(status["responses"]) == {"200", "404", "429"}
    assert "/api/v1/widget/config/" in schema["paths"]
