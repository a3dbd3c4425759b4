"""When the database cannot be reached, a request is told to come back (503), not that it failed (500)."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection
from django.test import Client

from leads.models import Lead

pytestmark = pytest.mark.django_db


def _down(execute, sql, params, many, context):
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


def _broken(execute, sql, params, many, context):
    raise ValueError("a bug, not an outage")


@pytest.mark.parametrize("headers", [{}, {"HTTP_ORIGIN": "https://shop.example"}], ids=["view", "cors-middleware"])
def test_a_lead_posted_while_the_database_is_down_is_told_to_retry(site, headers):
    client = Client(raise_request_exception=False)
    with connection.execute_wrapper(_down):
        response = client.post("/api/v1/leads/", {"phone": "+79120001122", "site": "shop.example"},
                               content_type="application/json", **headers)

    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert "try again" in response.json()["detail"]
    assert not Lead.objects.exists()


def test_a_page_while_the_database_is_down_is_a_plain_503(admin_user):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    with connection.execute_wrapper(_down):
        response = client.get("/dashboard/")  # reading the session is the first query

    assert response.status_code == 503 and response["Content-Type"].startswith("text/plain")


def test_any_other_server_error_is_still_a_500(site):
    with connection.execute_wrapper(_broken):
        response = Client(raise_request_exception=False).post(
            "/api/v1/leads/", {"phone": "+79120001122", "site": "shop.example"}, content_type="application/json")

    assert response.status_code == 500
