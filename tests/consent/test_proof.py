"""A proof and a consent text are never edited: not through the model, not by a query, not by raw SQL,
not in the admin. A changed text is a new version."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from consent.models import ConsentProof, ConsentText, NeverEdited
from consent.services import consent_text_add
from leads.models import Lead
from tests.consent.conftest import staff
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def test_saving_a_proof_again_is_refused_and_changes_nothing(proof):
    proof.text = "I agree to everything."

    with pytest.raises(NeverEdited):
        proof.save()
    assert ConsentProof.objects.get().text == "I agree."


@pytest.mark.parametrize("model", [ConsentProof, ConsentText])
def test_a_queryset_update_is_refused(proof, model):
    with pytest.raises(NeverEdited):
        model.objects.update(text="changed")
    assert model.objects.get().text == "I agree."


@pytest.mark.parametrize("table", ["consent_consentproof", "consent_consenttext"])
def test_the_database_refuses_an_update_in_raw_sql(proof, table):
    with pytest.raises(DatabaseError, match="never edited"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET text = %s", ["changed"])

    assert ConsentProof.objects.get().text == ConsentText.objects.get().text == "I agree."


def test_a_proof_goes_with_its_lead_and_a_text_in_use_cannot_be_deleted(proof):
    with pytest.raises(ProtectedError):
        proof.consent_text.delete()

    proof.lead.delete()

    assert not ConsentProof.objects.exists() and ConsentText.objects.count() == 1


def test_versions_count_up_per_site():
    shop, other = SiteFactory(), SiteFactory()
    versions = [consent_text_add(site=site, text="t").version for site in (shop, shop, other, shop)]

    assert versions == [1, 2, 1, 3]


def test_the_lead_page_shows_the_proof_read_only_and_nobody_may_edit_it(client, proof, groups):
    client.force_login(User.objects.create_superuser("root", password="x"))

    page = client.get(f"/admin/leads/lead/{proof.lead.pk}/change/").content.decode()

    assert "I agree." in page and "198.51.100.7" in page and "https://shop.example/" in page
    assert 'name="consent_proof-0-text"' not in page  # shown, not a field to edit
    assert client.get(f"/admin/consent/consentproof/{proof.pk}/change/").status_code == 200
    response = client.post(f"/admin/consent/consentproof/{proof.pk}/change/", {"text": "changed"})
    assert response.status_code == 403
    assert client.post(f"/admin/consent/consentproof/{proof.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ConsentProof.objects.get().text == "I agree."


def test_a_manager_sees_the_proof_on_the_lead(client, proof, groups):
    client.force_login(staff("maria", "managers"))

    page = client.get(f"/admin/leads/lead/{proof.lead.pk}/change/").content.decode()

    assert "I agree." in page and "198.51.100.7" in page


def test_changing_a_text_in_the_admin_saves_a_new_version_and_keeps_the_old_one(client, proof, groups):
    client.force_login(staff("olga", "administrators"))
    old = proof.consent_text

    response = client.post(f"/admin/consent/consenttext/{old.pk}/change/", {"text": "I agree, v2."}, follow=True)

    assert response.status_code == 200
    assert "Saved as version 2; version 1 stays as it was." in response.content.decode()
    assert list(ConsentText.objects.order_by("version").values_list("version", "text")) == [
        (1, "I agree."), (2, "I agree, v2.")]
    assert ConsentText.objects.get(version=2).created_by == "olga"
    assert ConsentProof.objects.get().consent_text == old


def test_saving_a_text_unchanged_makes_no_version(client, proof, groups):
    client.force_login(staff("olga", "administrators"))

    client.post(f"/admin/consent/consenttext/{proof.consent_text.pk}/change/", {"text": "I agree."})

    assert ConsentText.objects.count() == 1


def test_a_text_added_in_the_admin_gets_the_sites_next_version(client, groups):
    site = SiteFactory()
    consent_text_add(site=site, text="first")
    client.force_login(staff("olga", "administrators"))

    response = client.post("/admin/consent/consenttext/add/", {"site": site.pk, "text": "second"})

    assert response.status_code == 302
    assert ConsentText.objects.get(text="second").version == 2


def test_the_site_page_shows_the_current_text_and_how_to_write_the_next(client, groups):
    site = SiteFactory()
    client.force_login(staff("olga", "administrators"))
    assert "none yet" in client.get(f"/admin/leads/site/{site.pk}/change/").content.decode()

    consent_text_add(site=site, text="Call me, please.")
    page = client.get(f"/admin/leads/site/{site.pk}/change/").content.decode()

    assert "version 1" in page and "Call me, please." in page and f"/admin/consent/consenttext/add/?site={site.pk}" in page


def test_a_site_requires_consent_from_its_admin_page(client, groups, settings):
    from tests.leads.test_admin_sites import site_form_data

    settings.CONSENT_REQUIRED = False
    site = SiteFactory(domain="shop.example")
    client.force_login(User.objects.create_superuser("root", password="x"))
    data = site_form_data(client, site)
    data.update(consent_required="True", telegram_full_phone="on")

    assert client.post(f"/admin/leads/site/{site.pk}/change/", data).status_code == 302
    site.refresh_from_db()
    assert (site.consent_required, site.telegram_full_phone) == (True, True)
    assert not Lead.objects.exists()
    assert client.post("/api/v1/leads/", {"phone": "+79123456789"}, HTTP_ORIGIN="https://shop.example").status_code == 422


def test_a_lead_with_a_proof_cannot_be_deleted_in_the_admin_even_by_a_superuser(client, proof):
    client.force_login(User.objects.create_superuser("root", password="x"))

    page = client.post(f"/admin/leads/lead/{proof.lead.pk}/delete/", {"post": "yes"})

    assert page.status_code == 403
    assert Lead.objects.filter(pk=proof.lead.pk).exists() and ConsentProof.objects.exists()
