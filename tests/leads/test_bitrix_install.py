"""The install page is shown by Bitrix24 in a frame of the portal: that portal, and only it, may frame it."""

from __future__ import annotations

import pytest

from leads.models import BitrixAuth

INSTALL = "/api/v1/crm/bitrix/install/"


def portal_origin(fake) -> str:
    return fake.portal_url.rstrip("/")  # http://127.0.0.1:<port>, the fake portal's origin


@pytest.mark.django_db
def test_the_install_page_may_be_framed_by_the_portal_only(b24_oauth, client):
    BitrixAuth.objects.all().delete()
    tokens = b24_oauth.issue_tokens()
    # As Bitrix24 opens it: the portal in the query string, the tokens in the POST body.
    response = client.post(f"{INSTALL}?DOMAIN=127.0.0.1&PROTOCOL=1&LANG=ru&APP_SID=abc", {
        "AUTH_ID": tokens["access_token"], "REFRESH_ID": tokens["refresh_token"], "AUTH_EXPIRES": "3600",
        "member_id": b24_oauth.member_id, "PLACEMENT": "DEFAULT"})

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == f"frame-ancestors {portal_origin(b24_oauth)}"
    assert "X-Frame-Options" not in response
    page = response.content.decode()
    assert '<script src="https://api.bitrix24.com/api/v1/"></script>' in page
    assert "js/bitrix-install.js" in page


@pytest.mark.django_db
def test_a_refused_install_is_still_shown_inside_the_portal(b24_oauth, client):
    response = client.post(INSTALL, {"AUTH_ID": "forged", "REFRESH_ID": "forged", "member_id": "x"})

    assert response.status_code == 403
    assert response["Content-Security-Policy"] == f"frame-ancestors {portal_origin(b24_oauth)}"
    assert "X-Frame-Options" not in response


@pytest.mark.django_db
def test_without_a_portal_the_install_page_cannot_be_framed(client, settings):
    settings.BITRIX_PORTAL_URL = ""
    response = client.post(INSTALL, {"AUTH_ID": "a", "REFRESH_ID": "r", "member_id": "m"})

    assert response.status_code == 400
    assert response["X-Frame-Options"] == "DENY" and "Content-Security-Policy" not in response


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/admin/login/", "/dashboard/login/", "/api/docs/", "/healthz"])
def test_every_other_page_still_refuses_any_frame(b24_oauth, client, path):
    response = client.get(path)

    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors http" not in response.get("Content-Security-Policy", "")


def test_the_install_script_finishes_the_installation_inside_bx24_init():
    """What b24restdocs shows (bx24-install-finish.md): BX24.init(function () { BX24.installFinish(); })."""
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "static/js/bitrix-install.js").read_text()
    compact = "".join(script.split())
    assert "window.BX24.init(function(){window.BX24.installFinish();});" in compact
