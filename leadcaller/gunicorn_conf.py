"""gunicorn hooks for the `web` process (Procfile: `--config python:leadcaller.gunicorn_conf`).

The master empties the web group's metric folder once at start, before it forks the workers, and
tells prometheus_client when a worker has gone (leadcaller/multiprocess.py).
"""

from __future__ import annotations

import os


def on_starting(server) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcaller.settings")
    from leadcaller import multiprocess

    multiprocess.group_start("web")


def child_exit(server, worker) -> None:
    from leadcaller import multiprocess

    multiprocess.process_exit(worker.pid)
