"""Start-up refuses a malformed or missing required setting with a message naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def django_check(tmp_path, **env_vars) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(LEADCALLER_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="leadcaller.settings", **env_vars)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_defaults_need_no_environment_at_all(tmp_path):
    result = django_check(tmp_path)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_var_and_the_sqlite_database_are_private_to_the_user(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)  # an older var/, created under a loose umask
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(LEADCALLER_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="leadcaller.settings")
    result = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr
    assert var.stat().st_mode & 0o777 == 0o700
    database = var / "leadcaller.sqlite3"
    assert database.stat().st_mode & 0o777 == 0o600
    for extra in var.glob("leadcaller.sqlite3-*"):  # SQLite's -wal and -shm follow the database's mode
        assert extra.stat().st_mode & 0o077 == 0, extra


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG must be true or false"),
        ("CALLING_HOURS", "mon-fri 21:00-09:00", "CALLING_HOURS"),
        ("CALLING_HOURS", "weekdays 9-18", "CALLING_HOURS"),
        ("LEAD_LOCAL_HOURS", "8-21", "LEAD_LOCAL_HOURS"),
        ("LEAD_LOCAL_HOURS", "", "LEAD_LOCAL_HOURS"),
        ("LEAD_LOCAL_HOURS_BY_COUNTRY", "08:00-20:00", "LEAD_LOCAL_HOURS_BY_COUNTRY"),
        ("LEAD_LOCAL_HOURS_BY_COUNTRY", "USA=08:00-20:00", "LEAD_LOCAL_HOURS_BY_COUNTRY"),
        ("LEAD_LOCAL_HOURS_BY_COUNTRY", "US=20:00-08:00", "LEAD_LOCAL_HOURS_BY_COUNTRY"),
        ("SKIP_HOLIDAYS", "maybe", "SKIP_HOLIDAYS must be true or false"),
        ("WINDOW_RAMP_MINUTES", "-1", "WINDOW_RAMP_MINUTES must be 0 or more"),
        ("CALLING_TIME_ZONE", "Mars/Olympus", "CALLING_TIME_ZONE"),
        ("TIME_ZONE", "Nowhere", "TIME_ZONE"),
        ("UNKNOWN_SITES", "maybe", "UNKNOWN_SITES must be one of store, accept, reject"),
        ("PHONE_REGION", "XX", "PHONE_REGION"),
        ("CALL_ALLOWED_REGIONS", "RU,ZZ", "CALL_ALLOWED_REGIONS"),
        ("THROTTLE_PER_IP", "lots", "THROTTLE_PER_IP"),
        ("CALL_DAILY_BUDGET", "many", "CALL_DAILY_BUDGET"),
        ("CALL_DAILY_BUDGET", "-1", "CALL_DAILY_BUDGET must be 0 or more"),
        ("CALL_HOURLY_CEILING", "-5", "CALL_HOURLY_CEILING must be 0 or more"),
        ("CALL_NUMBER_TYPES", "mobile,premium_rate", "CALL_NUMBER_TYPES"),
        ("INTAKE_MAX_OPS", "0", "INTAKE_MAX_OPS must be 1 or more"),
        ("PROVIDER_TIMEOUT", "-1", "PROVIDER_TIMEOUT must be 0 or more"),
        ("BITRIX_PLAN", "gold", "BITRIX_PLAN must be one of standard, enterprise"),
        ("BITRIX_MAX_EXECUTION_TIME", "-5", "BITRIX_MAX_EXECUTION_TIME must be 0 or more"),
        ("BITRIX_PARTNER_FIELD", "COMPANY_ID", "BITRIX_PARTNER_FIELD must name a lead user field"),
        ("RETRY_BACKOFF_SCALE", "-0.5", "RETRY_BACKOFF_SCALE must be 0 or more"),
        ("DATABASE_URL", "nosuchdb://x", "DATABASE_URL"),
        ("PUBLIC_BASE_URL", "localhost:8000", "PUBLIC_BASE_URL"),
        ("VOXIMPLANT_API_URL", "ftp://x", "VOXIMPLANT_API_URL"),
        ("VOXIMPLANT_RULE_ID", "123", "VOXIMPLANT_CALLBACK_SECRET must be set"),
    ],
)
def test_malformed_setting_stops_start_up_naming_the_variable(tmp_path, name, value, message):
    result = django_check(tmp_path, **{name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_calling_hours_syntax_accepts_ranges_lists_and_several_windows():
    from telephony.calling_hours import parse_calling_hours

    hours = parse_calling_hours("mon-fri 09:00-13:00, 14:00-20:00; sat,sun 10:00-16:00; fri-mon 23:00-24:00")

    assert [(w.start.hour, w.end.hour) for w in hours.windows(0)] == [(9, 13), (14, 20), (23, 23)]
    assert [(w.start.hour, w.end.hour) for w in hours.windows(5)] == [(10, 16), (23, 23)]
    assert hours.windows(2)[-1].end.hour == 20


def test_json_log_format_writes_one_json_object_per_line_with_the_context(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(LEADCALLER_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="leadcaller.settings", LOG_FORMAT="json")
    code = ("import django, logging; django.setup(); from leadcaller.logging import bind_lead; "
            "bind_lead('lead-1'); logging.getLogger('leads').warning('hello')")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    import json

    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert (record["message"], record["lead_id"], record["request_id"], record["levelname"]) == \
        ("hello", "lead-1", "-", "WARNING")
