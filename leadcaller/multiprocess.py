"""Where each process writes its metrics (prometheus_client's multiprocess mode).

Every long-running process group has a folder of its own under METRICS_DIR: `web` for gunicorn
(leadcaller/gunicorn_conf.py), `worker-<node name>` for each Celery worker (leadcaller/celery.py).
The group's main process empties its folder when it starts and points PROMETHEUS_MULTIPROC_DIR at
it before any metric exists; the processes it forks inherit that and write one file per pid.

Why a folder per group and not one for all: a group restarts alone (a deploy of the workers, a
crashed web server). Emptying one shared folder then would wipe the others' live files; keeping it
would let the restarted group's dead files pile up. /metrics labels each series with its group
(`process_group`), so a restart is a clean counter reset of that group's series, which Prometheus
handles, and never a partial drop of a total.

Other processes (beat, manage.py commands, the test run) keep their metrics in memory: nothing
scrapes them, and their one-off counts would only pile up files.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"


def group_folder(name: str) -> Path:
    return Path(settings.METRICS_DIR) / re.sub(r"[^A-Za-z0-9@._-]", "_", name)


def group_start(name: str) -> Path:
    """Called by a group's main process at start, before it forks or imports any metric."""
    folder = group_folder(name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(folder)
    if "prometheus_client.values" in sys.modules:
        # Too late: this process chose in-memory metrics at import, and /metrics will not see them.
        logger.warning("prometheus_client was imported before %s was set; metrics of %s stay private", ENV, name)
    return folder


def process_exit(pid: int) -> None:
    """A process of the group ended: its live gauges go (its counters stay, so totals never drop)."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def group_files() -> dict[str, list[str]]:
    """The metric files of every group under METRICS_DIR, by group name."""
    root = Path(settings.METRICS_DIR)
    if not root.is_dir():
        return {}
    return {folder.name: sorted(str(path) for path in folder.glob("*.db"))
            for folder in sorted(root.iterdir()) if folder.is_dir()}
