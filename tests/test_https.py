"""HTTPS=true hardens a deployment behind a TLS proxy; `manage.py check --deploy` stays clean with it."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = {"DEBUG": "false", "ALLOWED_HOSTS": "leads.example.com", "PUBLIC_BASE_URL": "https://leads.example.com"}


def run(tmp_path, args: list[str], **env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(LEADCALLER_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="leadcaller.settings",
               SECRET_KEY=secrets.token_urlsafe(50), **env_vars)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def deploy_warnings(result: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"\((\w+\.W\d+)\)", result.stdout + result.stderr))


def test_the_deploy_checks_are_clean_with_https(tmp_path):
    result = run(tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], HTTPS="true", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert deploy_warnings(result) == set() and "no issues" in result.stdout


def test_without_https_the_deploy_checks_name_exactly_what_https_turns_on(tmp_path):
    result = run(tmp_path, ["manage.py", "check", "--deploy"], **PRODUCTION)

    # HSTS, the SSL redirect, the secure session and CSRF cookies.
    assert deploy_warnings(result) == {"security.W004", "security.W008", "security.W012", "security.W016"}


def test_hsts_without_subdomains_is_possible_and_the_check_says_so(tmp_path):
    result = run(tmp_path, ["manage.py", "check", "--deploy"], HTTPS="true", HSTS_INCLUDE_SUBDOMAINS="false",
                 **PRODUCTION)

    assert deploy_warnings(result) == {"security.W005"}


def test_https_needs_an_https_public_address(tmp_path):
    result = run(tmp_path, ["manage.py", "check"], HTTPS="true", PUBLIC_BASE_URL="http://leads.example.com")

    assert result.returncode != 0 and "PUBLIC_BASE_URL must be an https:// address" in result.stderr


PAGES = """
import django; django.setup()
from django.test import Client
client = Client(HTTP_HOST="leads.example.com")
plain = client.get("/dashboard/login/")
print("plain", plain.status_code, plain.get("Location"))
for path in ("/healthz", "/metrics"):
    print(path, client.get(path).status_code)
secure = client.get("/dashboard/login/", HTTP_X_FORWARDED_PROTO="https")
print("secure", secure.status_code, secure.get("Strict-Transport-Security"))
print("cookies", [(c.key, bool(c["secure"])) for c in secure.cookies.values()])
"""


def test_https_redirects_plain_requests_except_health_and_metrics_and_sends_hsts_over_the_proxy(tmp_path):
    result = run(tmp_path, ["-c", PAGES], HTTPS="true", **PRODUCTION)
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())

    assert lines["plain"] == "301 https://leads.example.com/dashboard/login/", result.stderr
    assert lines["/healthz"] in ("200", "503") and lines["/metrics"] in ("200", "403")
    assert lines["secure"] == "200 max-age=31536000; includeSubDomains"
    assert lines["cookies"] == "[('csrftoken', True)]"
