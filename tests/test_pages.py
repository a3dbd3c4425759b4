"""Pages a newcomer opens after `make run`: the demo form, API docs, the admin."""

from __future__ import annotations

import pytest
import yaml

from tests.html import addresses_loaded, loaded_from_elsewhere


@pytest.mark.django_db
def test_home_page_serves_the_demo_form_posting_to_the_api(client):
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'action="/api/v1/leads/"' in html and 'name="phone"' in html and 'name="hp_website"' in html


@pytest.mark.django_db
def test_static_files_are_served_by_the_app_itself(client):
    response = client.get("/static/js/lead-form.js")

    assert response.status_code == 200
    assert b"fetch(" in b"".join(response.streaming_content)


def test_openapi_schema_describes_the_intake_endpoint(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    operation = schema["paths"]["/api/v1/leads/"]["post"]
    assert {"201", "400", "403", "413", "415", "422", "429"} <= set(operation["responses"])
    assert "application/x-www-form-urlencoded" in operation["requestBody"]["content"]
    fields = schema["components"]["schemas"]["LeadInput"]["properties"]
    assert {"consent", "consent_version", "consent_text", "page"} <= set(fields)
    assert fields["consent_version"]["minimum"] == 1 and fields["consent_version"]["nullable"] is True


def test_api_docs_page_loads_swagger_from_our_own_static_files(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert addresses_loaded(html) and loaded_from_elsewhere(html) == []


@pytest.mark.django_db
def test_admin_lists_and_shows_leads_with_their_timeline(admin_client):
    from leads.pipeline import step_run
    from tests.factories import LeadFactory

    lead = LeadFactory(name="Ivan <b>")
    step_run(step_name="call", lead_id=lead.pk)

    listing = admin_client.get("/admin/leads/lead/", {"q": lead.phone})
    page = admin_client.get(f"/admin/leads/lead/{lead.pk}/change/")

    assert listing.status_code == 200 and lead.phone in listing.content.decode()
    assert page.status_code == 200
    assert "Automatic calling is not configured" in page.content.decode()
    assert "Ivan &lt;b&gt;" in page.content.decode()


@pytest.mark.django_db
def test_admin_requires_login(client):
    response = client.get("/admin/leads/lead/")

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/api/docs/", "/admin/login/"])
def test_the_demo_form_the_api_docs_and_the_admin_are_served_under_a_strict_csp(client, path):
    policy = client.get(path)["Content-Security-Policy"]

    assert "script-src 'self';" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy


def test_the_api_docs_settings_script_is_a_file_of_its_own(client):
    page = client.get("/api/docs/").content.decode()
    script = client.get("/api/docs/?script=")

    assert "<script>" not in page and "<style>" not in page
    assert script.status_code == 200 and "SwaggerUIBundle(" in script.content.decode()
