"""POST /api/v1/leads/: each answer of the intake contract."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from leads.models import IntakeCounter, Lead, LeadEvent
from tests.conftest import post_json
from tests.factories import LeadFactory, PartnerFactory, PartnerRuleFactory, SiteFactory

pytestmark = pytest.mark.django_db
ORIGIN = {"HTTP_ORIGIN": "https://www.shop.example"}


def test_json_lead_is_stored_with_normalised_phone_and_answered_201(api, site):
    response = post_json(api, {"phone": "8 (912) 345-67-89", "name": "Иван", "order_amount": "1500.50"}, **ORIGIN)

    assert response.status_code == 201
    body = response.json()
    assert body["duplicate"] is False and body["status"] == "in_progress"
    lead = Lead.objects.get(public_id=body["id"])
    assert (lead.site, lead.phone, lead.phone_raw, lead.name) == (site, "+79123456789", "8 (912) 345-67-89", "Иван")
    assert str(lead.order_amount) == "1500.50" and lead.currency == "RUB"
    assert lead.ref == "+79123456789"
    assert list(lead.events.values_list("kind", flat=True)) == [LeadEvent.Kind.RECEIVED]


def test_form_post_with_aliases_maps_onto_fields_and_keeps_unknown_fields_as_extra(api, site):
    response = api.post(
        "/api/v1/leads/",
        {"tel": "+7 912 000-11-22", "fio": "Пётр", "sum": "2 000,00", "product": "Чайник", "utm_source": "ya"},
        **ORIGIN,
    )

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.phone, lead.name, str(lead.order_amount), lead.utm_source) == ("+79120001122", "Пётр", "2000.00", "ya")
    assert lead.extra == {"product": "Чайник"}


def test_multipart_post_is_accepted(api, site):
    response = api.post("/api/v1/leads/", {"phone": "+79120001122", "comment": "call after 5"},
                        format="multipart", **ORIGIN)

    assert response.status_code == 201
    assert Lead.objects.get().comment == "call after 5"


def test_explicit_fields_win_over_aliases(api, site):
    post_json(api, {"phone": "+79120001122", "tel": "+79990000000", "amount": "5", "order_amount": "7"}, **ORIGIN)

    lead = Lead.objects.get()
    assert (lead.phone, str(lead.order_amount)) == ("+79120001122", "7.00")


def test_extra_object_and_raw_request_are_kept_without_the_key(api, site):
    post_json(api, {"phone": "+79120001122", "extra": {"cart": [1, 2]}}, **ORIGIN)

    lead = Lead.objects.get()
    assert lead.extra == {"cart": [1, 2]}
    assert lead.raw_request["data"]["phone"] == "+79120001122"
    assert lead.raw_request["headers"]["Origin"] == "https://www.shop.example"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "phone"),
        ({"phone": ""}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"phone": ["+79120001122"]}, "phone"),
        ({"phone": "+79120001122", "order_amount": "lots"}, "order_amount"),
        ({"phone": "+79120001122", "order_amount": "-5"}, "order_amount"),
        ({"phone": "+79120001122", "order_amount": "1.234"}, "order_amount"),
        ({"phone": "+79120001122", "currency": "rubles"}, "currency"),
        ({"phone": "+79120001122", "extra": "not an object"}, "extra"),
        ({"phone": "+79120001122", "name": "x" * 201}, "name"),
        ({"phone": "+79120001122", "name": "nul\x00byte"}, "name"),
    ],
)
def test_bad_input_is_400_with_a_message_for_the_field_and_stores_nothing(api, site, payload, field):
    response = post_json(api, payload, **ORIGIN)

    assert response.status_code == 400
    assert field in response.json() and response.json()[field]
    assert not Lead.objects.exists()


def test_malformed_json_is_400(api, site):
    response = api.generic("POST", "/api/v1/leads/", '{"phone": "+7912', content_type="application/json", **ORIGIN)

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert not Lead.objects.exists()


@pytest.mark.parametrize("body", ['["+79120001122"]', '"+79120001122"', "42"])
def test_json_that_is_not_an_object_is_400(api, site, body):
    response = api.generic("POST", "/api/v1/leads/", body, content_type="application/json", **ORIGIN)

    assert response.status_code == 400
    assert not Lead.objects.exists()


def test_unsupported_content_type_is_415(api, site):
    response = api.generic("POST", "/api/v1/leads/", "<lead/>", content_type="application/xml", **ORIGIN)

    assert response.status_code == 415
    assert not Lead.objects.exists()


def test_body_over_the_limit_is_413(api, site, settings):
    settings.INTAKE_MAX_BYTES = 1000
    response = post_json(api, {"phone": "+79120001122", "comment": "x" * 2000}, **ORIGIN)

    assert response.status_code == 413
    assert not Lead.objects.exists()


def test_mistyped_email_does_not_cost_the_lead(api, site):
    response = post_json(api, {"phone": "+79120001122", "email": "ivan@"}, **ORIGIN)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.email == "" and lead.extra["email_as_entered"] == "ivan@"


def test_nul_characters_in_extra_fields_are_stored_safely(api, site):
    response = post_json(api, {"phone": "+79120001122", "extra": {"note": "a\x00b"}}, **ORIGIN)

    assert response.status_code == 201
    assert Lead.objects.get().extra == {"note": "a\ufffdb"}


@pytest.mark.parametrize("field", ["site", "name", "ref", "partner"])
def test_nul_characters_in_a_lead_field_are_400_and_store_nothing(api, site, field):
    response = post_json(api, {"phone": "+79120001122", field: "shop\x00.example"}, **ORIGIN)

    assert response.status_code == 400
    assert field in response.json()
    assert not Lead.objects.exists()


def test_get_is_not_allowed(api, site):
    assert api.get("/api/v1/leads/").status_code == 405


# --- site resolution --------------------------------------------------------------------------
def test_without_an_origin_the_site_is_read_from_the_explicit_field_first(api, site):
    other = SiteFactory(domain="other.example")
    post_json(api, {"phone": "+79120001122", "site": "other.example"}, HTTP_REFERER="https://shop.example/")

    assert Lead.objects.get().site == other


def test_a_browsers_origin_names_the_site_whatever_the_site_field_says(api, site):
    SiteFactory(domain="other.example")
    post_json(api, {"phone": "+79120001122", "site": "other.example"}, **ORIGIN)

    assert Lead.objects.get().site == site


def test_a_page_on_an_unknown_origin_cannot_file_its_lead_under_a_known_site(api, site):
    post_json(api, {"phone": "+79120001122", "site": "shop.example"}, HTTP_ORIGIN="https://evil.example")

    lead = Lead.objects.get()
    assert lead.site.is_default and lead.site_unknown


def test_site_is_read_from_referer_when_there_is_no_origin(api, site):
    post_json(api, {"phone": "+79120001122"}, HTTP_REFERER="https://shop.example/cart?x=1")

    lead = Lead.objects.get()
    assert lead.site == site and lead.site_unknown is False


@pytest.mark.parametrize("value", ["shop\x00.example", "shop .example", "_", ".."])
def test_a_site_that_is_not_a_host_name_matches_no_site(value):
    from leads.selectors import host_normalize

    assert host_normalize(value) == ""


def test_idn_port_and_trailing_newline_forms_of_a_site_are_normalised():
    from leads.selectors import host_normalize

    assert host_normalize("https://WWW.Магазин.рф:8443/cart") == "магазин.рф"
    assert host_normalize("shop.example\n") == "shop.example"


def test_unknown_site_goes_to_the_default_site_flagged_when_accepting(api, site, settings):
    settings.UNKNOWN_SITES = "accept"
    response = post_json(api, {"phone": "+79120001122"}, HTTP_ORIGIN="https://elsewhere.example")

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.site.is_default and lead.site_unknown


def test_unknown_site_is_400_when_rejecting(api, site, settings):
    settings.UNKNOWN_SITES = "reject"
    response = post_json(api, {"phone": "+79120001122"}, HTTP_ORIGIN="https://elsewhere.example")

    assert response.status_code == 400
    assert "site" in response.json()
    assert not Lead.objects.exists()


def test_inactive_site_is_treated_as_unknown(api, settings):
    settings.UNKNOWN_SITES = "reject"
    SiteFactory(domain="closed.example", is_active=False)
    response = post_json(api, {"phone": "+79120001122"}, HTTP_ORIGIN="https://closed.example")

    assert response.status_code == 400


def test_numbers_without_country_code_are_read_in_the_sites_region(api):
    SiteFactory(domain="shop.de", phone_region="DE")
    post_json(api, {"phone": "030 1234567"}, HTTP_ORIGIN="https://shop.de")

    assert Lead.objects.get().phone == "+49301234567"


# --- partners ---------------------------------------------------------------------------------
def test_partner_is_resolved_by_explicit_code(api, site):
    partner = PartnerFactory(code="acme")
    post_json(api, {"phone": "+79120001122", "partner": "ACME"}, **ORIGIN)

    assert Lead.objects.get().partner == partner


def test_partner_is_resolved_by_referral_rule_then_by_utm_source(api, site):
    by_code = PartnerRuleFactory(kind="referral", value="ref-77").partner
    by_utm = PartnerRuleFactory(kind="utm_source", value="cashback").partner
    post_json(api, {"phone": "+79120001122", "partner": "ref-77", "utm_source": "cashback"}, **ORIGIN)
    post_json(api, {"phone": "+79120003344", "utm_source": "CashBack"}, **ORIGIN)

    assert [lead.partner for lead in Lead.objects.order_by("id")] == [by_code, by_utm]


def test_unknown_or_inactive_partner_leaves_the_lead_without_partner(api, site):
    PartnerFactory(code="gone", is_active=False)
    post_json(api, {"phone": "+79120001122", "partner": "gone"}, **ORIGIN)
    post_json(api, {"phone": "+79120003344", "partner": "nobody"}, **ORIGIN)

    assert list(Lead.objects.values_list("partner", flat=True)) == [None, None]


def test_an_unknown_partner_code_leaves_a_trace_on_the_lead_that_the_admin_shows(api, site, admin_client):
    by_utm = PartnerRuleFactory(kind="utm_source", value="cashback").partner
    post_json(api, {"phone": "+79120001122", "partner": "Nobody-42", "utm_source": "cashback"}, **ORIGIN)
    post_json(api, {"phone": "+79120003344", "utm_source": "cashback"}, **ORIGIN)

    flagged, plain = Lead.objects.order_by("id")
    assert (flagged.partner, plain.partner) == (by_utm, by_utm)
    assert flagged.extra["unknown_partner_code"] == "Nobody-42" and "unknown_partner_code" not in plain.extra
    assert flagged.events.filter(code="partner_unknown", params={"code": "Nobody-42"}).exists()
    assert not plain.events.filter(code="partner_unknown").exists()
    page = admin_client.get(f"/admin/leads/lead/{flagged.pk}/change/").content.decode()
    assert "partner code Nobody-42 is not known" in page
    listed = admin_client.get("/admin/leads/lead/", {"partner_code": "unknown"}).content.decode()
    assert "+79120001122" in listed and "+79120003344" not in listed


# --- the ref rule -----------------------------------------------------------------------------
def test_second_post_with_same_ref_is_a_duplicate_answered_200_with_the_first_id(api, site):
    first = post_json(api, {"phone": "+79120001122", "ref": "order-1"}, **ORIGIN).json()
    second = post_json(api, {"phone": "+79990001122", "ref": "order-1"}, **ORIGIN)

    assert second.status_code == 200
    assert second.json() == {"id": first["id"], "duplicate": True}  # nothing more to a caller without the key
    assert Lead.objects.count() == 1
    assert Lead.objects.get().events.filter(kind=LeadEvent.Kind.DUPLICATE).count() == 1
    assert IntakeCounter.objects.get(kind="duplicate").count == 1


def test_a_duplicate_answer_tells_its_status_only_to_a_caller_with_the_sites_key(api, site):
    Lead.objects.filter(pk=LeadFactory(site=site, ref="order-1").pk).update(status=Lead.Status.SCHEDULED)

    keyed = post_json(api, {"phone": "+79120001122", "ref": "order-1"}, HTTP_X_LEADCALLER_KEY=site.intake_key)
    anonymous = post_json(api, {"phone": "+79120001122", "ref": "order-1"}, **ORIGIN)

    assert keyed.json()["status"] == "scheduled"
    assert anonymous.status_code == 200 and set(anonymous.json()) == {"id", "duplicate"}
    assert anonymous.json()["id"] == keyed.json()["id"]


def test_default_ref_is_the_normalised_phone(api, site):
    post_json(api, {"phone": "+7 912 000-11-22"}, **ORIGIN)
    second = post_json(api, {"phone": "89120001122"}, **ORIGIN)

    assert second.json()["duplicate"] is True


def test_same_ref_on_another_site_is_not_a_duplicate(api, site):
    SiteFactory(domain="other.example")
    post_json(api, {"phone": "+79120001122"}, **ORIGIN)
    response = post_json(api, {"phone": "+79120001122"}, HTTP_ORIGIN="https://other.example")

    assert response.status_code == 201


@pytest.mark.parametrize("final_status", [Lead.Status.REACHED, Lead.Status.HANDLED, Lead.Status.SPAM])
def test_same_ref_may_come_again_once_the_first_lead_has_finished(api, site, final_status):
    post_json(api, {"phone": "+79120001122"}, **ORIGIN)
    Lead.objects.update(status=final_status)
    response = post_json(api, {"phone": "+79120001122"}, **ORIGIN)

    assert response.status_code == 201
    assert Lead.objects.count() == 2


def test_lead_in_manual_handling_still_holds_its_ref(api, site):
    post_json(api, {"phone": "+79120001122"}, **ORIGIN)
    Lead.objects.update(status=Lead.Status.MANUAL)

    assert post_json(api, {"phone": "+79120001122"}, **ORIGIN).json()["duplicate"] is True


def test_an_open_lead_closed_between_the_insert_and_the_look_up_lets_the_new_post_in(api, site, monkeypatch,
                                                                                      django_capture_on_commit_callbacks):
    """The INSERT wrote nothing (the first lead held the ref), then the first lead closed before the look-up
    read it: the post tries again and is stored, not refused as a duplicate of nothing."""
    from leads import services

    first = post_json(api, {"phone": "+79120001122", "ref": "order-1"}, **ORIGIN).json()
    look_up = services._open_lead

    def closed_meanwhile(site, ref):  # what a result recorded by the call worker at that moment does
        Lead.objects.filter(public_id=first["id"]).update(status=Lead.Status.REACHED)
        return look_up(site, ref)

    monkeypatch.setattr(services, "_open_lead", closed_meanwhile)
    with django_capture_on_commit_callbacks() as dispatched:
        second = post_json(api, {"phone": "+79990001122", "ref": "order-1"}, **ORIGIN)

    assert second.status_code == 201 and second.json()["duplicate"] is False and second.json()["id"] != first["id"]
    new = Lead.objects.get(public_id=second.json()["id"])
    assert new.status == Lead.Status.IN_PROGRESS and new.phone == "+79990001122"
    assert len(dispatched) == 1  # its pipeline starts, as any new lead's
    assert not LeadEvent.objects.filter(kind=LeadEvent.Kind.DUPLICATE).exists()


def test_a_ref_held_by_no_open_lead_twice_running_is_a_503_to_try_again(api, site, monkeypatch):
    """Two closings in a row between INSERT and look-up: the post stores nothing and is asked to come back,
    as for any brief refusal of the database, rather than answered 500."""
    from leads import services

    first = post_json(api, {"phone": "+79120001122", "ref": "order-1"}, **ORIGIN).json()
    monkeypatch.setattr(services, "_open_lead", lambda site, ref: None)  # the look-up never finds it

    response = post_json(APIClient(raise_request_exception=False), {"phone": "+79990001122", "ref": "order-1"},
                         **ORIGIN)

    assert response.status_code == 503 and response["Retry-After"]
    assert "try again" in response.json()["detail"]
    assert [str(pk) for pk in Lead.objects.values_list("public_id", flat=True)] == [first["id"]]


def test_response_carries_a_request_id(api, site):
    response = post_json(api, {"phone": "+79120001122"}, HTTP_X_REQUEST_ID="abc-123", **ORIGIN)

    assert response["X-Request-ID"] == "abc-123"
    assert json.loads(response.content)["id"]


def test_multipart_with_files_keeps_only_their_names(api, site):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile("a.txt", b"x"), SimpleUploadedFile("b.txt", b"y")]
    response = api.post("/api/v1/leads/", {"phone": "+79120001122", "attachment": files}, format="multipart", **ORIGIN)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.raw_request["data"]["attachment"] == ["a.txt", "b.txt"]
    assert "attachment" not in lead.extra
