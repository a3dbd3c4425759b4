"""Celery reads its configuration from a copy of Django's CELERY_ settings (leadcaller/celery_config.py)."""

from __future__ import annotations

from django.conf import settings

from leadcaller.celery import app


def test_every_celery_setting_reaches_celery_under_its_own_name():
    names = [name for name in dir(settings) if name.startswith("CELERY_")]
    assert "CELERY_TASK_ACKS_LATE" in names and "CELERY_TASK_ROUTES" in names

    for name in names:
        assert app.conf[name.removeprefix("CELERY_").lower()] == getattr(settings, name), name
    assert app.conf.task_routes["telephony.tasks.call_step"] == {"queue": "call"}
    assert app.conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT


def test_no_setting_is_taken_for_one_of_celerys_old_names():
    # CELERY_TASK_PUBLISH_RETRY_POLICY is also a Celery 3 name: kept under it, every worker warned at start
    # that it is deprecated, and asked the operator to run `celery upgrade settings`.
    app.conf.finalize()
    assert not app.conf.deprecated_settings
    assert app.conf.task_publish_retry_policy == settings.CELERY_TASK_PUBLISH_RETRY_POLICY
