"""The Celery app. Settings come from Django settings under the CELERY_ namespace (leadcaller/celery_config.py)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import beat_init, before_task_publish, celeryd_init, task_postrun, task_prerun, worker_process_shutdown
from kombu import Queue

from leadcaller import broker  # noqa: F401  (registers the embedded broker's transport before any connection)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcaller.settings")

app = Celery("leadcaller")
app.config_from_object("leadcaller.celery_config:CELERY", namespace="CELERY")  # read when first needed
# Declared queues are what a worker consumes when started without -Q: every queue, by default.
# The call queue is separate so a CRM backlog never delays a call.
app.conf.task_queues = [Queue(name) for name in ("call", "crm", "notify", "default")]
app.autodiscover_tasks()


@before_task_publish.connect
def _carry_log_context(headers: dict | None = None, **_: object) -> None:
    from leadcaller.logging import current_context

    if headers is not None:
        for key, value in current_context().items():
            headers.setdefault(key, value)


@task_prerun.connect
def _restore_log_context(task=None, **_: object) -> None:
    from django.db import close_old_connections

    from leadcaller.logging import restore_context

    close_old_connections()  # as before a web request: honours CONN_MAX_AGE and CONN_HEALTH_CHECKS
    request = getattr(task, "request", None)
    restore_context({"request_id": getattr(request, "request_id", None), "lead_id": getattr(request, "lead_id", None)})


@task_postrun.connect
def _clear_log_context(**_: object) -> None:
    from leadcaller.logging import restore_context

    restore_context(None)


@beat_init.connect
def _demo_partners(**_: object) -> None:
    """Under `make run` (simulators running) partners come from the Bitrix24 simulator at start, not
    BITRIX_PARTNER_SYNC_INTERVAL later."""
    from django.conf import settings

    if settings.DEMO_SIMULATORS_URL:
        app.send_task("leads.tasks.sync_partners_at_start", countdown=2)


@celeryd_init.connect
def _metrics_folder(sender: str | None = None, **_: object) -> None:
    """The worker's main process, before it imports the tasks or forks: its own metric folder."""
    from leadcaller import multiprocess

    multiprocess.group_start(f"worker-{sender or os.getpid()}")


@worker_process_shutdown.connect
def _metrics_process_gone(pid: int | None = None, **_: object) -> None:
    from leadcaller import multiprocess

    multiprocess.process_exit(pid or os.getpid())
