"""Nothing leaked: intake keys, callback tokens and full phone numbers stay out of the logs (web and
worker, text and JSON, and gunicorn's access log), and only administrators see a site's key."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from leadcaller.redact import redact
from tests.conftest import ROOT
from tests.factories import SiteFactory


@pytest.mark.parametrize(("line", "expected"), [
    ("POST /api/v1/leads/?key=Zx9_secret-KEY HTTP/1.1", "POST /api/v1/leads/?key=[redacted] HTTP/1.1"),
    ("GET /cb/?attempt_id=7&token=abc123 HTTP/1.1", "GET /cb/?attempt_id=7&token=[redacted] HTTP/1.1"),
    ("headers {'X-Leadcaller-Key': 'Zx9secret'}", "headers {'X-Leadcaller-Key': '[redacted]'}"),
    ("+78091234567 is a premium-rate number", "+7809*****67 is a premium-rate number"),
    ("tel:+447400123456, +12015550123", "tel:+4474******56, +1201*****23"),
    ("lead 1a1c7f0c-d9d0-41b0 took 12 s; session 2000000001", "lead 1a1c7f0c-d9d0-41b0 took 12 s; session 2000000001"),
])
def test_redact_hides_keys_tokens_and_phone_numbers_and_nothing_else(line, expected):
    assert redact(line) == expected


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_application_logs_carry_neither_keys_nor_full_phone_numbers(tmp_path, log_format):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(LEADCALLER_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="leadcaller.settings", LOG_FORMAT=log_format)
    code = ("import django, logging; django.setup(); log = logging.getLogger('leads.services')\n"
            "log.warning('lead needs manual handling: %s', '+78091234567 is a premium-rate number')\n"
            "try:\n    raise ValueError('refused /api/v1/leads/?key=Zx9secret for +79123456789')\n"
            "except ValueError:\n    log.exception('failed')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert "+7809*****67" in result.stderr and "+7912*****89" in result.stderr, result.stderr
    for secret in ("78091234567", "79123456789", "Zx9secret"):
        assert secret not in result.stderr


def test_gunicorns_access_log_leaves_out_keys_tokens_and_numbers():
    from gunicorn.config import Config

    from leadcaller.gunicorn_conf import RedactingLogger

    environ = {"REQUEST_METHOD": "POST", "RAW_URI": "/api/v1/leads/?key=Zx9secret", "SERVER_PROTOCOL": "HTTP/1.1",
               "QUERY_STRING": "key=Zx9secret", "PATH_INFO": "/api/v1/leads/", "REMOTE_ADDR": "203.0.113.9",
               "HTTP_REFERER": "https://shop.example/?tel=+79123456789"}
    request = SimpleNamespace(headers=[("X-LEADCALLER-KEY", "Zx9secret"), ("USER-AGENT", "curl")])
    response = SimpleNamespace(status="201 Created", headers=[], sent=10)
    took = SimpleNamespace(seconds=0, microseconds=1500)

    atoms = RedactingLogger(Config()).atoms(response, request, environ, took)

    assert atoms["r"] == "POST /api/v1/leads/?key=[redacted] HTTP/1.1" and atoms["q"] == "key=[redacted]"
    assert atoms["{x-leadcaller-key}i"] == "[redacted]" and atoms["f"] == "https://shop.example/?tel=+7912*****89"
    assert not any("Zx9secret" in str(value) or "79123456789" in str(value) for value in atoms.values())


@pytest.mark.django_db
@pytest.mark.parametrize(("group", "sees_key"), [("managers", False), ("administrators", True)])
def test_only_administrators_see_a_sites_intake_key_in_the_admin(client, groups, group, sees_key):
    from django.contrib.auth.models import Group, User

    site = SiteFactory(domain="shop.example")
    user = User.objects.create_user(group, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)

    page = client.get(f"/admin/leads/site/{site.pk}/change/")

    assert page.status_code == 200 and "shop.example" in page.content.decode()
    assert (site.intake_key in page.content.decode()) is sees_key
