"""`GET /metrics`: Prometheus text format, for METRICS_ALLOWED_IPS or a METRICS_TOKEN bearer.

What it shows: the event counters of every web and worker process on this machine (merged from
their files, one `process_group` label per group; see leadcaller/multiprocess.py), or of this
process alone when it runs without a metric folder (runserver, tests); then the state read now
from the database and the broker. The state queries use the partial indexes of leads/models.py and
stop counting at STATE_COUNT_CAP rows, so a scrape stays cheap on a table of millions of leads.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Min
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from leadcaller import metrics, multiprocess
from leadcaller.http import direct_address

logger = logging.getLogger(__name__)

STATE_COUNT_CAP = 100_000


# --- access -------------------------------------------------------------------------------------
def scrape_allowed(request: HttpRequest) -> bool:
    """Let in: the bearer token (when METRICS_TOKEN is set), or a direct connection from an allowed network.

    A request that came through a proxy (it carries a forwarding header) is never let in by address:
    behind nginx every client would otherwise look like 127.0.0.1."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    address = direct_address(request)
    return address is not None and any(address in network for network in settings.METRICS_ALLOWED_IPS)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return HttpResponseForbidden("Metrics are for Prometheus: see METRICS_TOKEN in docs/operations.md.\n",
                                     content_type="text/plain")
    # Imported here, not at the top: urls.py imports this module in every process, a worker's main
    # process too, before it has chosen its metric folder (leadcaller/metrics.py says why that matters).
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

    registry = CollectorRegistry(auto_describe=False)
    registry.register(GroupFilesCollector() if multiprocess.enabled() else _ThisProcess())
    registry.register(StateCollector())
    # The classic text format, which every Prometheus version reads (our names need nothing newer).
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)


# --- events: counted by the processes --------------------------------------------------------------
class _ThisProcess:
    def collect(self) -> Iterator[Any]:
        from prometheus_client import REGISTRY

        metrics.prepare()
        return REGISTRY.collect()


class GroupFilesCollector:
    """Merges each group's files (prometheus_client adds up the processes of a group) and tells
    the groups apart with a label, so each series belongs to one group and resets only with it."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import Metric
        from prometheus_client.multiprocess import MultiProcessCollector

        families: dict[str, Metric] = {}
        for group, files in multiprocess.group_files().items():
            try:
                merged = MultiProcessCollector.merge(files, accumulate=True)
            except (FileNotFoundError, OSError, ValueError):  # the group restarted while we read
                logger.warning("metric files of %s could not be read", group, exc_info=True)
                continue
            for metric in merged:
                family = families.setdefault(metric.name, Metric(metric.name, metric.documentation, metric.type))
                family.samples.extend(
                    sample._replace(labels={**sample.labels, "process_group": group}) for sample in metric.samples
                )
        return iter(families.values())


# --- state: read now from the database and the broker -----------------------------------------
class StateCollector:
    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("leadcaller_state_up", "Whether /metrics could read this source now.",
                               labels=["source"])
        for source, read in (("database", _database_state), ("broker", _queue_depths)):
            try:
                yield from read()
                up.add_metric([source], 1)
            except Exception:  # a scrape must answer even when a part is down; the gauge says which
                logger.warning("metrics: cannot read the %s", source, exc_info=True)
                up.add_metric([source], 0)
        yield up


def _database_state() -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    from leads.models import Lead
    from leads.pipeline import STEPS

    now = timezone.now()
    # order_by(): the model's default order would sort the capped sub-select for nothing.
    manual = Lead.objects.filter(status=Lead.Status.MANUAL).order_by()  # the partial index lead_manual_queue
    yield GaugeMetricFamily("leadcaller_leads_manual", "Leads in manual handling now (counted up to "
                            f"{STATE_COUNT_CAP}).", value=manual[:STATE_COUNT_CAP].count())
    oldest = manual.aggregate(oldest=Min("manual_since"))["oldest"]
    yield GaugeMetricFamily("leadcaller_leads_manual_oldest_seconds",
                            "How long the oldest lead in manual handling has waited (0: none waits).",
                            value=(now - oldest).total_seconds() if oldest else 0)
    due = GaugeMetricFamily("leadcaller_steps_due", "Pipeline steps due now that no worker is running: the "
                            f"backlog (counted up to {STATE_COUNT_CAP}).", labels=["step"])
    for step in STEPS.values():
        # The partial index lead_<step>_due holds only open steps, ordered by due time.
        waiting = Lead.objects.filter(
            **{step.state_field: Lead.StepState.PENDING, f"{step.due_field}__lte": now}).order_by()
        due.add_metric([step.name], waiting[:STATE_COUNT_CAP].count())
    yield due


def _queue_depths() -> Iterator[Any]:
    """Messages waiting in each queue, as the broker counts them. Messages a worker has taken but
    not finished are not counted."""
    from prometheus_client.core import GaugeMetricFamily

    from leadcaller.celery import app

    family = GaugeMetricFamily("leadcaller_queue_messages", "Messages waiting in the broker, per queue.",
                               labels=["queue"])
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=2)
        for queue in app.conf.task_queues:
            family.add_metric([queue.name], _depth(conn, queue.name))
    yield family


def _depth(conn, name: str) -> int:
    from amqp.exceptions import NotFound
    from kombu.exceptions import ChannelError

    channel = conn.channel()
    try:
        if hasattr(channel, "_size"):
            # kombu's own count for its virtual transports: on Redis the LLEN of the queue's key and
            # its priority keys, with REDIS_KEY_PREFIX; in the embedded broker, the queue's files.
            # (A passive declare would not do on Redis: kombu checks the key without the prefix.)
            return int(channel._size(name))
        return channel.queue_declare(name, passive=True).message_count  # AMQP (RabbitMQ)
    except (ChannelError, NotFound):  # never declared
        return 0
    finally:
        try:
            channel.close()
        except Exception:  # an AMQP channel closed by a 404 cannot be closed again
            pass
