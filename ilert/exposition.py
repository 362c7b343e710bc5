"""GET /metrics: the Prometheus text format, for operators (docs/metrics.md).

Refused unless settings.METRICS_TOKEN is set (404: the route does not exist for anyone) and the
request carries it as `Authorization: Bearer <token>` (401 otherwise; compared in constant time).
It is no tenant's route: no session or API key opens it, and it shows no tenant's data.

The answer adds up what every process counted (ilert/metrics.py, multiprocess mode) and what is
read now from the database and the broker (StateCollector): the open outbox rows, the due work no
engine has taken yet, overdue ticks and broker queue lengths. Those reads touch only open or due
rows, each through a partial index, so a scrape stays cheap however much history there is.
"""

import hashlib
import hmac
import logging
import time

import redis
from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from ilert import clock, metrics
from ilert.models import Tick

log = logging.getLogger(__name__)

# Scrape-time readers of the apps, by dotted path (resolved at scrape, so ilert imports no upper app).
# An outbox reader answers [(state, channel, rows, oldest due or None)] for its open rows; a backlog
# reader (rows due now that no engine has taken, the due time of the oldest).
OUTBOX_READERS = {
    "notifications": "notifications.engine.outbox_depth",
    "connectors": "connectors.engine.outbox_depth",
}
BACKLOG_READERS = {
    "escalation": "escalation.engine.backlog",
    "uptime": "uptime.engine.backlog",
}


def _digest(value):
    return hashlib.sha256(value.encode()).digest()


def _authorized(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(_digest(token.strip()), _digest(settings.METRICS_TOKEN))


@require_safe
def metrics_view(request):
    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are off: set METRICS_TOKEN.")
    if not _authorized(request):
        response = HttpResponse("A valid bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


def registry():
    """A registry of everything /metrics shows: every process's values, then the state read now."""
    registry = CollectorRegistry()
    if metrics.MULTIPROC_DIR:
        multiprocess.MultiProcessCollector(registry, path=metrics.MULTIPROC_DIR)
    else:
        registry.register(_ThisProcess())
    registry.register(StateCollector())
    return registry


class _ThisProcess:
    """Single-process mode: the default registry (this process's values) as one collector."""

    def collect(self):
        yield from REGISTRY.collect()


class StateCollector:
    """What is read at scrape time. A reader that fails (the database or the broker is away) is
    skipped and says so in ilert_state_read_ok; the rest still answers."""

    def collect(self):
        now = clock.now()
        started = time.perf_counter()
        ok = GaugeMetricFamily("ilert_state_read_ok", "1 when this scrape-time read succeeded, 0 when it failed.",
                               labels=["reader"])
        depth = GaugeMetricFamily("ilert_outbox_depth", "Open outbox rows (pending: waiting for their due time "
                                  "or a worker; sending: claimed, a provider call out), by outbox, state and channel.",
                                  labels=["outbox", "state", "channel"])
        oldest = GaugeMetricFamily("ilert_outbox_oldest_due_age_seconds", "Age of the oldest pending outbox row "
                                   "past its due time (0 when none is overdue), by outbox and channel.",
                                   labels=["outbox", "channel"])
        for outbox, path in OUTBOX_READERS.items():
            rows = self._read(ok, f"outbox:{outbox}", path, now)
            for state, channel, count, due in rows or ():
                depth.add_metric([outbox, state, channel], count)
                if state == "pending":
                    oldest.add_metric([outbox, channel], _age(now, due))
        due = GaugeMetricFamily("ilert_due_backlog", "Rows due now that no engine has taken yet.", labels=["engine"])
        due_age = GaugeMetricFamily("ilert_due_oldest_age_seconds", "How long the oldest due row has waited "
                                    "(0 when nothing is due): escalation lateness as it builds up.", labels=["engine"])
        for engine, path in BACKLOG_READERS.items():
            backlog = self._read(ok, f"backlog:{engine}", path, now)
            if backlog is not None:
                due.add_metric([engine], backlog[0])
                due_age.add_metric([engine], _age(now, backlog[1]))
        overdue = GaugeMetricFamily("ilert_tick_overdue_seconds", "How long a periodic task's tick has been due "
                                    "without any ticker taking it (0 when on time).", labels=["task"])
        for name, due_at in self._read(ok, "ticks", _ticks, now) or ():
            overdue.add_metric([name], _age(now, due_at))
        queues = GaugeMetricFamily("ilert_queue_depth", "Messages waiting in the broker's queues (kicked tasks).",
                                   labels=["queue"])
        for name, length in self._read(ok, "queues", _queue_lengths, now) or ():
            queues.add_metric([name], length)
        took = GaugeMetricFamily("ilert_state_read_seconds", "How long this scrape's state reads took.",
                                 value=time.perf_counter() - started)
        yield from (depth, oldest, due, due_age, overdue, queues, ok, took)

    @staticmethod
    def _read(ok, name, reader, now):
        try:
            value = (import_string(reader) if isinstance(reader, str) else reader)(now)
        except Exception as exc:  # a scrape must answer with what it can read: this reader says 0
            log.warning("metrics: reading %s failed: %s: %s", name, exc.__class__.__name__, exc)
            ok.add_metric([name], 0)
            return None
        ok.add_metric([name], 1)
        return value


def _age(now, due):
    return max(0.0, (now - due).total_seconds()) if due is not None else 0.0


def _ticks(now):
    return list(Tick.objects.values_list("name", "due_at"))


def _queue_lengths(now):
    """Lengths of the Celery queues in Redis (kombu keeps a list per queue and priority step); none
    in the embedded run, whose kicks wait in its processes (ilert_local_kicks_waiting)."""
    if settings.TASK_RUNNER != "celery" or not settings.REDIS_URL:
        return []
    timeout = settings.REDIS_TIMEOUT_SECONDS
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        names = [name.strip() for name in settings.WORKER_QUEUES.split(",") if name.strip()]
        pipe = client.pipeline(transaction=False)
        for name in names:
            for key in _priority_keys(name):
                pipe.llen(key)
        lengths = pipe.execute()
    finally:
        client.close()
    steps = len(_priority_keys(""))
    return [(name, sum(lengths[i * steps:(i + 1) * steps])) for i, name in enumerate(names)]


def _priority_keys(queue):
    # kombu's Redis transport: the queue itself (priority 0), then one list per further priority step.
    return [queue] + [f"{queue}\x06\x16{step}" for step in (3, 6, 9)]
