"""The widget's script (its size) and the site's admin page: the snippet, its copy button and preview,
and the field mapping for form builders."""

from __future__ import annotations

import gzip
import json

import pytest
from django.contrib.auth.models import User

from leads.models import Site
from tests.conftest import ROOT
from tests.factories import SiteFactory
from tests.admin_forms import site_form_data

pytestmark = pytest.mark.django_db
WIDGET = ROOT / "static" / "widget" / "leadcaller.js"


def test_the_widget_script_is_under_15_kb_gzipped():
    size = len(gzip.compress(WIDGET.read_bytes(), compresslevel=9))
    assert size < 15 * 1024, f"{size} bytes gzipped"


def test_the_widget_script_is_served_as_a_static_file(client):
    response = client.get("/static/widget/leadcaller.js")
    assert response.status_code == 200 and b"data-site-key" in b"".join(response.streaming_content)


def test_the_sites_admin_page_shows_the_snippet_with_a_copy_button_and_a_preview(client, settings):
    settings.PUBLIC_BASE_URL = "https://calls.example.com"
    site = SiteFactory(domain="shop.example")
    client.force_login(User.objects.create_superuser("root", password="x"))

    page = client.get(f"/admin/leads/site/{site.pk}/change/").content.decode()

    snippet = (f'&lt;script src=&quot;https://calls.example.com/static/widget/leadcaller.js&quot; '
               f'data-site-key=&quot;{site.widget_key}&quot; async&gt;&lt;/script&gt;')
    assert snippet in page and 'id="lc-snippet-copy"' in page
    assert f'<script src="/static/widget/leadcaller.js" data-site-key="{site.widget_key}" data-preview>' in page


def test_the_field_mapping_is_edited_on_the_sites_admin_page(client):
    site = SiteFactory(domain="shop.example")
    client.force_login(User.objects.create_superuser("root", password="x"))
    data = site_form_data(client, site)

    bad = client.post(f"/admin/leads/site/{site.pk}/change/", {**data, "form_field_map": '{"tel": "Phone"}'})
    assert bad.status_code == 200 and "tel" in str(bad.context["adminform"].form.errors["form_field_map"])

    mapping = {"phone": "Ваш телефон", "order_amount": "total"}
    good = client.post(f"/admin/leads/site/{site.pk}/change/", {**data, "form_field_map": json.dumps(mapping)})
    assert good.status_code == 302
    assert Site.objects.get(pk=site.pk).form_field_map == mapping
