"""Form builders' webhooks at POST /api/v1/leads/?key=...: Tilda, Elementor Pro, Contact Form 7 (CF7 to
Webhook) and a site's own field mapping. Each fixture is the builder's documented shape; its source
is noted beside it."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from leads.builders import submission_key, submission_keys_purge
from leads.models import Lead, LeadEvent, SubmissionKey
from leads.services import LeadData, lead_intake
from tests.conftest import run_together
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"

# https://help-ru.tilda.cc/forms/webhook: fields as named in the form, plus tranid and formid; with
# "send cookies" on, COOKIES as one "name=value; ..." string.
TILDA = {"Name": "Анна", "Phone": "+7 (912) 345-67-89", "Email": "anna@mail.example",
         "tranid": "6161583:3841946861", "formid": "form431296472",
         "COOKIES": "_ym_uid=1; utm_source=yandex; utm_campaign=winter"}
# https://help-ru.tilda.cc/forms/webhook: "test=test" right after the webhook is connected; 200 expected.
TILDA_TEST = {"test": "test"}
# Elementor Pro, modules/forms/actions/webhook.php, "Advanced Data" on: form, fields and meta as
# nested arrays, sent form-encoded by wp_remote_post.
ELEMENTOR_ADVANCED = {
    "form[id]": "3f1c2a7", "form[name]": "Перезвоните мне",
    "fields[name][id]": "name", "fields[name][type]": "text", "fields[name][title]": "Имя",
    "fields[name][value]": "Борис", "fields[name][raw_value]": "Борис", "fields[name][required]": "0",
    "fields[field_5c1d][id]": "field_5c1d", "fields[field_5c1d][type]": "tel",
    "fields[field_5c1d][title]": "Телефон", "fields[field_5c1d][value]": "8 912 000-11-22",
    "fields[field_5c1d][raw_value]": "8 912 000-11-22", "fields[field_5c1d][required]": "1",
    "meta[date][title]": "Date", "meta[date][value]": "December 4, 2026",
    "meta[page_url][title]": "Page URL", "meta[page_url][value]": "https://shop.example/sale/",
    "meta[user_agent][title]": "User Agent", "meta[user_agent][value]": "Mozilla/5.0 (Windows NT 10.0)",
    "meta[remote_ip][title]": "Remote IP", "meta[remote_ip][value]": "203.0.113.7",
}
# The same action with "Advanced Data" off: get_formatted_data(true), keyed by the fields' labels and
# the meta's titles, plus form_id and form_name.
ELEMENTOR_SIMPLE = {"Name": "Борис", "Phone": "+7 912 000-11-22", "Date": "December 4, 2026",
                    "Page URL": "https://shop.example/sale/", "Remote IP": "203.0.113.7",
                    "form_id": "3f1c2a7", "form_name": "Перезвоните мне"}
# CF7 to Webhook (mariovalney/cf7-to-zapier, modules/zapier/class-module-zapier.php): json_encode of
# the form's posted fields by their CF7 names, Content-Type application/json; checkboxes as lists.
CF7 = {"your-name": "Вера", "your-email": "vera@mail.example", "your-tel": "+7 912 555-44-33",
       "your-message": "Перезвоните после 18:00", "acceptance-231": "1", "menu-12": ["Доставка"]}


def _url(site, **params) -> str:
    return "/api/v1/leads/?" + urlencode({"key": site.intake_key, **params})


def _form(api, url, data):
    return api.post(url, urlencode(data, doseq=True), content_type=FORM)


def test_tildas_connection_test_is_answered_ok_and_stores_nothing(api, site):
    response = _form(api, _url(site), TILDA_TEST)

    assert response.status_code == 200 and response.content == b"ok"
    assert not Lead.objects.exists() and not SubmissionKey.objects.exists()


def test_tildas_connection_test_without_the_key_says_to_add_it(api, site):
    response = _form(api, "/api/v1/leads/", TILDA_TEST)

    assert response.status_code == 400 and "?key=" in response.json()["key"][0]
    assert not Lead.objects.exists()


def test_a_tilda_submission_makes_a_lead_answered_200_ok_with_its_id(api, site):
    response = _form(api, _url(site), TILDA)

    assert response.status_code == 200 and response.content == b"ok"
    lead = Lead.objects.get()
    assert str(lead.public_id) == response["X-Leadcaller-Lead"] and response["X-Leadcaller-Duplicate"] == "false"
    assert (lead.site, lead.name, lead.phone, lead.email) == (site, "Анна", "+79123456789", "anna@mail.example")
    assert (lead.utm_source, lead.utm_campaign) == ("yandex", "winter")
    assert lead.extra["formid"] == "form431296472" and lead.extra["form_builder"] == "tilda"
    assert SubmissionKey.objects.get().key == "tilda:6161583:3841946861"


@pytest.mark.parametrize("status", [Lead.Status.REACHED, Lead.Status.IN_PROGRESS, Lead.Status.MANUAL,
                                    Lead.Status.OPTED_OUT])
def test_tilda_repeating_a_submission_gets_the_first_lead_and_changes_nothing(api, site, status):
    first = _form(api, _url(site), TILDA)
    lead = Lead.objects.get()
    Lead.objects.filter(pk=lead.pk).update(status=status)
    events = lead.events.count()

    again = _form(api, _url(site), TILDA)

    assert again.status_code == 200 and again.content == b"ok"
    assert again["X-Leadcaller-Lead"] == first["X-Leadcaller-Lead"] and again["X-Leadcaller-Duplicate"] == "true"
    assert Lead.objects.count() == 1
    lead.refresh_from_db()
    assert lead.status == status and lead.events.count() == events


def test_a_new_tranid_for_the_same_number_after_the_call_ended_is_a_new_lead(api, site):
    _form(api, _url(site), TILDA)
    Lead.objects.update(status=Lead.Status.REACHED)

    _form(api, _url(site), {**TILDA, "tranid": "6161583:9999999999"})

    assert Lead.objects.count() == 2


def test_a_tilda_repeat_is_answered_even_when_the_phone_throttle_would_refuse(api, site, settings):
    settings.THROTTLE_PER_PHONE = "1/hour"
    _form(api, _url(site), TILDA)

    again = _form(api, _url(site), TILDA)

    assert again.status_code == 200 and again["X-Leadcaller-Duplicate"] == "true"


def test_a_submission_key_bound_by_a_racing_post_answers_with_that_posts_lead(site):
    """The insert that loses the race on the unique key rolls back its lead and answers with the winner's."""
    winner = lead_intake(data=LeadData(phone_raw="+79123456789", phone="+79123456789"), site=site).lead
    Lead.objects.filter(pk=winner.pk).update(status=Lead.Status.REACHED)  # frees the ref: only the key collides
    SubmissionKey.objects.create(site=site, key="tilda:1:2", lead=winner)

    result = lead_intake(data=LeadData(phone_raw="+79123456789", phone="+79123456789"), site=site,
                         submission_key="tilda:1:2")

    assert result.duplicate and result.lead.pk == winner.pk
    assert Lead.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_posts_of_one_tilda_submission_store_one_lead(api, site):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    from rest_framework.test import APIClient

    answers = run_together(*[lambda: _form(APIClient(), _url(site), TILDA)] * 4)

    assert [a.status_code for a in answers] == [200] * 4
    assert Lead.objects.count() == 1 and len({a["X-Leadcaller-Lead"] for a in answers}) == 1


def test_an_expired_submission_key_no_longer_answers_and_is_purged(api, site, settings):
    _form(api, _url(site), TILDA)
    Lead.objects.update(status=Lead.Status.REACHED)
    SubmissionKey.objects.update(created_at=timezone.now() - timedelta(days=settings.SUBMISSION_KEY_DAYS + 1))

    _form(api, _url(site), TILDA)

    assert Lead.objects.count() == 2 and SubmissionKey.objects.count() == 1
    SubmissionKey.objects.update(created_at=timezone.now() - timedelta(days=settings.SUBMISSION_KEY_DAYS + 1))
    assert submission_keys_purge() == 1 and not SubmissionKey.objects.exists()


def test_a_tranid_without_the_sites_key_is_not_an_idempotency_key(api, site):
    response = _form(api, "/api/v1/leads/", {**TILDA, "site": "shop.example"})

    assert response.status_code == 200 and Lead.objects.get().site == site
    assert not SubmissionKey.objects.exists()


def test_a_very_long_submission_id_is_stored_hashed():
    key = submission_key("tilda", "x" * 500)
    assert key.startswith("tilda:sha256:") and len(key) <= 200


def test_elementor_with_advanced_data_reads_fields_by_label_and_the_meta(api, site):
    response = _form(api, _url(site), ELEMENTOR_ADVANCED)

    assert response.status_code == 200, response.content
    assert response.json()["duplicate"] is False
    lead = Lead.objects.get()
    assert (lead.name, lead.phone, lead.client_ip) == ("Борис", "+79120001122", "203.0.113.7")
    assert lead.user_agent == "Mozilla/5.0 (Windows NT 10.0)"
    assert lead.extra["form_name"] == "Перезвоните мне" and lead.extra["form_builder"] == "elementor"


def test_elementor_without_advanced_data_reads_the_labels(api, site):
    response = _form(api, _url(site), ELEMENTOR_SIMPLE)

    assert response.status_code == 200, response.content
    lead = Lead.objects.get()
    assert (lead.name, lead.phone, lead.client_ip) == ("Борис", "+79120001122", "203.0.113.7")
    assert lead.extra["form_id"] == "3f1c2a7"


def test_contact_form_7_json_is_read_by_its_field_names(api, site):
    response = api.post(_url(site), CF7, format="json")

    assert response.status_code == 200, response.content
    lead = Lead.objects.get()
    assert (lead.name, lead.phone, lead.email) == ("Вера", "+79125554433", "vera@mail.example")
    assert lead.comment == "Перезвоните после 18:00" and lead.extra["menu-12"] == ["Доставка"]


def test_the_sites_field_mapping_names_phone_name_sum_and_submission_id(api):
    site = SiteFactory(domain="shop.example", form_field_map={
        "phone": "Ваш номер", "name": "client", "order_amount": "Итого", "submission_id": "entry"})
    data = {"ваш номер": "+7 912 111-22-33", "Client": "Галя", "Итого": "2 500", "entry": "77", "phone": "junk"}

    first = api.post(_url(site), data, format="json")
    again = api.post(_url(site), data, format="json")

    assert first.status_code == 200 and again.json() == {**first.json(), "duplicate": True}
    lead = Lead.objects.get()
    assert (lead.phone, lead.name, str(lead.order_amount)) == ("+79121112233", "Галя", "2500.00")
    assert SubmissionKey.objects.get().key == "generic:77"


def test_a_field_mapping_with_an_unknown_field_or_a_blank_name_is_refused():
    site = SiteFactory.build(domain="x.example", form_field_map={"telephone": "Phone"})
    with pytest.raises(ValidationError, match="telephone"):
        site.full_clean()
    site.form_field_map = {"phone": ""}
    with pytest.raises(ValidationError):
        site.full_clean()
    site.form_field_map = ["phone"]
    with pytest.raises(ValidationError):
        site.full_clean()


@pytest.mark.parametrize("body", [
    {**TILDA, "Phone": "not a number"},
    {"tranid": "1:2"},
    {"fields[a]": "x", "fields[b][value]": "", "form[id]": "1"},
    {"fields[a][b][c][d]": "x", "form_id": "1"},
    {"tranid": "1:2", "Phone": "\x00"},
])
def test_a_builder_post_without_a_usable_phone_is_a_clear_400(api, site, body):
    response = _form(api, _url(site), body)

    assert response.status_code == 400 and "phone" in response.json()
    assert not Lead.objects.exists() and not SubmissionKey.objects.exists()


@pytest.mark.parametrize("body", [{"fields": {"phone": 5}}, {"fields": {"x": {"value": ["a"]}}, "form": "s"},
                                  {"your-tel": {"a": 1}}, {"fields": [], "form_id": {}}])
def test_odd_json_shapes_are_answered_without_a_server_error(api, site, body):
    response = api.post(_url(site), body, format="json")

    assert response.status_code in (200, 400) and response.status_code < 500
    assert response.json()


def test_a_plain_post_is_unchanged_and_answered_201(api, site):
    response = api.post(_url(site), {"phone": "+79120001122"}, format="json")

    assert response.status_code == 201 and not Lead.objects.get().extra.get("form_builder")
    assert LeadEvent.objects.filter(kind=LeadEvent.Kind.RECEIVED).count() == 1


def test_a_shops_own_form_id_field_does_not_make_its_post_a_builders(api, site):
    response = api.post(_url(site), {"phone": "+79120001122", "form_id": "checkout"}, format="json")

    assert response.status_code == 201 and Lead.objects.get().extra == {"form_id": "checkout"}


def test_the_source_parameter_names_the_builder_outright(api, site):
    response = api.post(_url(site, source="tilda"), {"Phone": "+79120001122", "lead_id": "9"}, format="json")

    assert response.status_code == 200 and response.content == b"ok"
    assert Lead.objects.get().extra["form_builder"] == "tilda"


def test_a_tilda_post_for_a_number_with_an_open_lead_binds_its_tranid_to_that_lead(api, site):
    widget_lead = lead_intake(data=LeadData(phone_raw="+79123456789", phone="+79123456789"), site=site).lead

    first = _form(api, _url(site), TILDA)
    events = widget_lead.events.count()
    again = _form(api, _url(site), TILDA)

    assert first["X-Leadcaller-Lead"] == again["X-Leadcaller-Lead"] == str(widget_lead.public_id)
    assert first["X-Leadcaller-Duplicate"] == "true" and Lead.objects.count() == 1
    assert SubmissionKey.objects.get().lead == widget_lead and widget_lead.events.count() == events


def test_a_builders_consent_box_is_read_through_the_mapping_where_consent_is_required(api):
    site = SiteFactory(domain="shop.example", consent_required=True, form_field_map={"consent": "acceptance-231"})

    refused = api.post(_url(site), {**CF7, "acceptance-231": ""}, format="json")
    taken = api.post(_url(site), CF7, format="json")

    assert refused.status_code == 422 and taken.status_code == 200
    assert Lead.objects.get().consent_proof.given_at is not None
