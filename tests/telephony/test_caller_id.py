"""Caller IDs are kept the way VoxEngine takes them (digits with the country code, no spaces): on the
site, in VOXIMPLANT_CALLER_ID, and a value that is no number is refused where it is entered."""

from __future__ import annotations

import importlib

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from leads.models import Site
from telephony.caller_id import CallerIdError, caller_id_normalize
from tests.admin_forms import site_form_data
from tests.factories import SiteFactory
from tests.test_settings import django_check


@pytest.mark.parametrize(("raw", "digits"), [
    ("74951234567", "74951234567"),
    ("+7 (495) 123-45-67", "74951234567"),
    ("7 912 000 00 00", "79120000000"),
    ("+1 650-253-0000", "16502530000"),
    ("", ""),
])
def test_a_caller_id_is_kept_as_digits_with_the_country_code(raw, digits):
    assert caller_id_normalize(raw, region="RU") == digits


@pytest.mark.parametrize(("raw", "ambiguous"), [
    ("call-centre", False),
    ("12345", False),
    ("+7 495", False),
    ("+999 1234567", False),
    ("8 495 123-45-67", True),  # +84 95... in Vietnam, or 8 (495) in Russia: not guessed
])
def test_what_is_no_number_or_could_be_two_is_refused(raw, ambiguous):
    with pytest.raises(CallerIdError) as refused:
        caller_id_normalize(raw, region="RU")

    assert refused.value.ambiguous is ambiguous


@pytest.mark.django_db
def test_the_site_form_stores_a_typed_caller_id_as_digits(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", password="pw"))
    site = SiteFactory(domain="shop.example", name="Shop")
    data = site_form_data(client, site, caller_id="+7 (495) 123-45-67")

    response = client.post(f"/admin/leads/site/{site.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Site.objects.get(pk=site.pk).caller_id == "74951234567"
    refused = client.post(f"/admin/leads/site/{site.pk}/change/", {**data, "caller_id": "8 495 123-45-67"})
    assert refused.status_code == 200 and "reads as two different numbers" in refused.content.decode()


@pytest.mark.django_db
def test_full_clean_refuses_a_caller_id_with_letters():
    site = SiteFactory.build(domain="x.example", name="X", caller_id="ext. 12")

    with pytest.raises(ValidationError) as refused:
        site.full_clean()

    assert "caller_id" in refused.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_the_migration_normalises_caller_ids_already_stored_and_leaves_unreadable_ones():
    from django.apps import apps

    migration = importlib.import_module("leads.migrations.0009_site_caller_id_validated")
    typed = SiteFactory(domain="a.example", caller_id="+7 (495) 123-45-67")
    broken = SiteFactory(domain="b.example", caller_id="office line")

    migration.normalize_caller_ids(apps, connection.schema_editor())

    assert Site.objects.get(pk=typed.pk).caller_id == "74951234567"
    assert Site.objects.get(pk=broken.pk).caller_id == "office line"


def test_voximplant_caller_id_is_normalised_at_start_up(tmp_path):
    import os
    import subprocess
    import sys

    from tests.test_settings import ROOT

    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(LEADCALLER_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="leadcaller.settings",
               VOXIMPLANT_CALLER_ID="+7 (495) 123-45-67")
    shown = subprocess.run([sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                            "print(settings.VOXIMPLANT_CALLER_ID)"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=60)

    assert shown.stdout.strip() == "74951234567", shown.stderr


@pytest.mark.parametrize("value", ["+7 495", "8 495 123-45-67", "sales"])
def test_a_voximplant_caller_id_that_is_no_number_stops_start_up(tmp_path, value):
    result = django_check(tmp_path, VOXIMPLANT_CALLER_ID=value)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "VOXIMPLANT_CALLER_ID" in result.stderr
