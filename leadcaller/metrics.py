"""Every Prometheus metric of Leadcaller, and the few helpers that move them.

Two sources, chosen per metric:

- Events (leads received and refused, speed to lead, call outcomes, provider requests, errors and
  retries) are counted where they happen, in whichever process that is: gunicorn workers for
  intake and the scenario's callback, Celery prefork children for calls and the CRM. They use
  prometheus_client's multiprocess mode (leadcaller/multiprocess.py says where each process writes
  its files); counting at the event is exact and costs nothing at scrape time, and the database
  keeps no cheap running total of them (counting a million leads or attempts per scrape would be).
- State (leads in manual handling, steps due and not picked up, messages waiting in each queue)
  is read at scrape time from where the truth lives, the database and the broker
  (leadcaller/metrics_export.py). No process owns that state, so no process should count it, and
  the figures stay right across restarts and machines.

prometheus_client decides once, when it is imported, whether values are shared between processes
(PROMETHEUS_MULTIPROC_DIR). A Celery worker's main process imports the apps, and so this module,
before it chooses its metric folder; so prometheus_client is imported, and the metrics made, on
first use (PEP 562 `__getattr__` below): in a task or a request, after the folder is chosen.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests

# Why an answer with this status refused a submission.
REFUSAL_BY_STATUS = {400: "invalid", 403: "forbidden", 413: "too_large", 415: "unsupported", 422: "consent",
                     429: "throttled"}
REFUSAL_REASONS = ("duplicate", "honeypot", *dict.fromkeys(REFUSAL_BY_STATUS.values()))
CALL_OUTCOME_NAMES = ("human", "voicemail", "no_answer", "busy", "failed", "lost", "connected", "seller_missed")
PROVIDERS = ("voximplant", "bitrix24", "telegram")
ERROR_KINDS = ("timeout", "connection", "rate_limited", "server_error", "permanent")
# Which provider a pipeline step talks to (leads/pipeline.py's step names).
STEP_PROVIDERS = {"call": "voximplant", "crm": "bitrix24", "notify": "telegram"}
SPEED_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600)


_MAKING = threading.Lock()


def _made() -> dict[str, Any]:
    # The worker's thread pool meets its first events together: made twice, the second registration
    # would raise DuplicateTimeseries in the middle of a task.
    with _MAKING:
        return _make()


@functools.cache
def _make() -> dict[str, Any]:
    from prometheus_client import Counter, Histogram

    made = {
        "LEADS_RECEIVED": Counter("leadcaller_leads_received", "Leads stored by the intake API."),
        "LEADS_REFUSED": Counter(
            "leadcaller_leads_refused",
            "Submissions that left no new lead, by reason: " + ", ".join(REFUSAL_REASONS) + ".", ["reason"]),
        "SPEED_TO_LEAD": Histogram(
            "leadcaller_speed_to_lead_seconds",
            "From a lead's arrival to VoxImplant accepting its first StartScenarios. arrival=out_of_hours: the "
            "lead came outside its site's calling hours and waited for them on purpose.",
            ["arrival"], buckets=SPEED_BUCKETS),
        "SPEED_TO_CONVERSATION": Histogram(
            "leadcaller_speed_to_conversation_seconds",
            "From a lead's arrival to a seller joined to it on the call (call modes offer and seller_first).",
            buckets=SPEED_BUCKETS),
        "CALL_OUTCOMES": Counter(
            "leadcaller_call_outcomes",
            "Call attempts by how they ended: the scenario's result (human, voicemail, no_answer, busy, failed), "
            "or lost (no result came; the watchdog read the call history).", ["outcome"]),
        "PROVIDER_REQUESTS": Counter("leadcaller_provider_requests", "HTTP requests sent to a provider's API.",
                                     ["provider"]),
        "PROVIDER_ERRORS": Counter(
            "leadcaller_provider_errors",
            "Failed requests to a provider's API, by kind: timeout, connection, rate_limited, server_error "
            "(5xx, or an answer that is not the API's), permanent (refused: credentials, permissions, data).",
            ["provider", "kind"]),
        "PROVIDER_RETRIES": Counter(
            "leadcaller_provider_retries",
            "Work scheduled again after a transient failure: the call step (voximplant), the CRM step "
            "(bitrix24), a Telegram delivery (telegram).", ["provider"]),
    }
    # Every known series exists from the start at 0, so rate() sees the first event.
    for reason in REFUSAL_REASONS:
        made["LEADS_REFUSED"].labels(reason=reason)
    for arrival in ("in_hours", "out_of_hours"):
        made["SPEED_TO_LEAD"].labels(arrival=arrival)
    for outcome in CALL_OUTCOME_NAMES:
        made["CALL_OUTCOMES"].labels(outcome=outcome)
    for provider in PROVIDERS:
        made["PROVIDER_REQUESTS"].labels(provider=provider)
        made["PROVIDER_RETRIES"].labels(provider=provider)
        for kind in ERROR_KINDS:
            made["PROVIDER_ERRORS"].labels(provider=provider, kind=kind)
    return made


def __getattr__(name: str) -> Any:
    """`metrics.LEADS_RECEIVED` and the others, made on first use (see the module's docstring)."""
    if name.isupper() and name in _made():
        return _made()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def prepare() -> None:
    """Make every metric now (for a process that exports its own, with no event yet)."""
    _made()


def intake_refused(status: int) -> None:
    """An answer that refused a submission (statuses that refuse nothing, such as 405, are not counted)."""
    if status in REFUSAL_BY_STATUS:
        _made()["LEADS_REFUSED"].labels(reason=REFUSAL_BY_STATUS[status]).inc()


@contextmanager
def provider_request(provider: str, classify: Callable[[Exception], str | None]) -> Iterator[None]:
    """Wraps one request at a client's seam: counts it, and counts its failure under the kind that
    `classify` gives (None: not a failure worth counting, such as an expired token renewed at once)."""
    made = _made()
    made["PROVIDER_REQUESTS"].labels(provider=provider).inc()
    try:
        yield
    except Exception as exc:
        kind = classify(exc)
        if kind:
            made["PROVIDER_ERRORS"].labels(provider=provider, kind=kind).inc()
        raise


def network_kind(exc: BaseException) -> str | None:
    """timeout or connection when a client's error came from the network (its __cause__), else None."""
    cause = exc.__cause__
    if isinstance(cause, requests.Timeout):  # a ConnectTimeout is both: a timeout first
        return "timeout"
    if isinstance(cause, requests.RequestException):
        return "connection"
    return None


def step_retried(step_name: str) -> None:
    _made()["PROVIDER_RETRIES"].labels(provider=STEP_PROVIDERS.get(step_name, step_name)).inc()
