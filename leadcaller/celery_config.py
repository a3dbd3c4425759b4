"""Celery's configuration: Django's CELERY_ settings, copied once into a plain dict.

Celery looks a setting up several times for every task it sends or runs. Each look-up tries the
names a setting may have, and through Django's lazy settings object every try is a chain of
attribute proxies: that made up about two fifths of a `send_task`'s CPU. From a dict it is a
key look-up. Settings are read at start-up and never changed while a process runs, so a copy made
when Celery first reads its configuration holds.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

CELERY: dict[str, Any] = {name: getattr(settings, name) for name in dir(settings) if name.startswith("CELERY_")}
