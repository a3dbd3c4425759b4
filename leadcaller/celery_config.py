"""Celery's configuration: Django's CELERY_ settings, copied once into a plain dict.

Celery looks a setting up several times for every task it sends or runs. Each look-up tries the
names a setting may have, and through Django's lazy settings object every try is a chain of
attribute proxies: that made up about two fifths of a `send_task`'s CPU. From a dict it is a
key look-up. Settings are read at start-up and never changed while a process runs, so a copy made
when Celery first reads its configuration holds.

A setting Celery knows is copied under Celery's own name (`task_acks_late`). Under the prefixed
one, a name that was also Celery 3's (CELERY_TASK_PUBLISH_RETRY_POLICY) is taken for the old
setting, and every worker warns at start that it is deprecated. The rest keep their names:
Celery's Django fixup reads CELERY_DB_REUSE_MAX as it is.
"""

from __future__ import annotations

from typing import Any

from celery.app.defaults import SETTING_KEYS
from django.conf import settings


def _celery_name(name: str) -> str:
    own = name.removeprefix("CELERY_").lower()
    return own if own in SETTING_KEYS else name


CELERY: dict[str, Any] = {
    _celery_name(name): getattr(settings, name) for name in dir(settings) if name.startswith("CELERY_")
}
