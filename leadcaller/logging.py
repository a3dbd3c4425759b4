"""Log context that follows a lead from the web request into the Celery worker.

The request id and lead id live in context variables; a logging filter copies them onto every
record, and Celery task headers carry them across the broker (see leadcaller/celery.py).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.json import JsonFormatter

from leadcaller.redact import redact

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
lead_id_var: ContextVar[str] = ContextVar("lead_id", default="-")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def bind_lead(lead_id: object) -> None:
    lead_id_var.set(str(lead_id))


@contextmanager
def lead_context(lead_id: object) -> Iterator[None]:
    """Log lines, and tasks sent, inside the block carry this lead's id (a sweep goes lead by lead)."""
    token = lead_id_var.set(str(lead_id))
    try:
        yield
    finally:
        lead_id_var.reset(token)


def current_context() -> dict[str, str]:
    return {"request_id": request_id_var.get(), "lead_id": lead_id_var.get()}


def restore_context(headers: dict[str, object] | None) -> None:
    headers = headers or {}
    request_id_var.set(str(headers.get("request_id") or "-"))
    lead_id_var.set(str(headers.get("lead_id") or "-"))


class RedactingFormatter(logging.Formatter):
    """Log lines without intake keys, callback tokens or full phone numbers (leadcaller/redact.py)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingJsonFormatter(JsonFormatter):
    """The JSON log format, redacted the same way."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.lead_id = lead_id_var.get()
        return True


class QuietTasksFilter(logging.Filter):
    """Drop Celery's routine INFO lines for the periodic sweeps in `tasks`: beat's "Sending due
    task", the worker's "received" and "succeeded". They run every few seconds and mostly find
    nothing; what a sweep does, it logs itself, lead by lead. Warnings and errors always pass.

    Set on the loggers `celery.beat`, `celery.worker.strategy` and `celery.app.trace`, whose records
    name the task in their arguments (a dict with "name", or beat's (entry, task) tuple)."""

    def __init__(self, tasks: list[str]):
        super().__init__()
        self.tasks = frozenset(tasks)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        args = record.args
        named = [args.get("name")] if isinstance(args, dict) else list(args or ())
        return not any(isinstance(name, str) and name in self.tasks for name in named)


class RequestContextMiddleware:
    """Give every request an id (the caller's X-Request-ID when it is sane) and echo it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        tokens = (request_id_var.set(request_id), lead_id_var.set("-"))
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(tokens[0])
            lead_id_var.reset(tokens[1])
        response["X-Request-ID"] = request_id
        return response
