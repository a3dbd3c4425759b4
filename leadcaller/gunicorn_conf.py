"""gunicorn settings and hooks for the `web` process (Procfile: `--config python:leadcaller.gunicorn_conf`).

The access log goes through RedactingLogger: a site's intake key sent as `?key=` and the scenario's
`?token=` never reach it.

The master empties the web group's metric folder once at start, before it forks the workers, and
tells prometheus_client when a worker has gone (leadcaller/multiprocess.py).
"""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

from leadcaller.redact import REDACTED, redact

_SECRET_HEADERS = ("{x-leadcaller-key}i", "{authorization}i", "{http_x_leadcaller_key}e", "{http_authorization}e")


class RedactingLogger(Logger):
    """The access log without intake keys (`?key=`), callback tokens or full phone numbers."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if name in _SECRET_HEADERS:
                atoms[name] = REDACTED
            elif isinstance(value, str):
                atoms[name] = redact(value)
        return atoms


logger_class = RedactingLogger


def on_starting(server) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcaller.settings")
    from leadcaller import multiprocess

    multiprocess.group_start("web")


def child_exit(server, worker) -> None:
    from leadcaller import multiprocess

    multiprocess.process_exit(worker.pid)
