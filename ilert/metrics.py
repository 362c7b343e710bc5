"""Operator metrics (docs/metrics.md): every metric ilert exports, and the one-line helpers the code
calls where the thing it counts happens. GET /metrics (ilert/views.py) renders them.

Multiprocess mode (prometheus_client's): each process (gunicorn workers, Celery workers, the ticker
of the embedded run) writes its values to memory-mapped files in PROMETHEUS_MULTIPROC_DIR
(settings: var/metrics by default), and whichever process answers /metrics adds them all up. The
files are named after host and pid, so containers sharing the directory never write the same file.
Labels never name a tenant or a person: integration types, channels, states, task names.

What is a state rather than an event (outbox depth, overdue ticks, broker queues) is not counted
here but read at scrape time by StateCollector, with cheap, index-backed queries.

This module imports no Django at the top: gunicorn's master loads it (gunicorn.conf.py).
"""

import functools
import logging
import os
import shutil
import socket
import time
from pathlib import Path

log = logging.getLogger(__name__)

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")


_HOST = socket.gethostname().replace("_", "-")  # no "_": prometheus_client splits file names on it


def identity(pid=None):
    """The name of this process's files: host and pid. Asked on every update (prometheus_client
    notices a fork by it), so it is cheap."""
    return f"{_HOST}-{os.getpid() if pid is None else pid}"


if MULTIPROC_DIR:
    Path(MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
    from prometheus_client import values  # only here: it must be set before the first metric is made

    # Before the first metric exists: files per host and pid, not per pid alone.
    values.ValueClass = values.MultiProcessValue(process_identifier=identity)

from prometheus_client import Counter, Gauge, Histogram, multiprocess  # noqa: E402 - after the value class is chosen

from ilert.errors import DomainError  # noqa: E402 - no Django in it

LATENESS_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

# --- intake -----------------------------------------------------------------------------------------
INGEST_EVENTS = Counter(
    "ilert_ingest_events", "Inbound events handled by alerts.services.ingest, by integration type and "
    "outcome (the response code, or 'refused').", ["integration", "outcome"])
INGEST_SECONDS = Histogram(
    "ilert_ingest_duration_seconds", "Time alerts.services.ingest took for one event, until committed.",
    ["integration"], buckets=DURATION_BUCKETS)
INCIDENTS_OPENED = Counter(
    "ilert_incidents_opened", "Incidents opened by ingest, by integration type and priority.",
    ["integration", "priority"])
RATE_LIMIT_REFUSALS = Counter(
    "ilert_rate_limit_refusals", "Requests refused by a rate limit, by limit (ingest, login-pair, signup, ...).",
    ["limit"])

# --- escalation -------------------------------------------------------------------------------------
ESCALATION_STEPS = Counter("ilert_escalation_steps", "Escalation steps performed (committed).")
ESCALATION_LATENESS = Histogram(
    "ilert_escalation_lateness_seconds", "How late each escalation step ran: the time it was performed "
    "minus the time it was due.", buckets=LATENESS_BUCKETS)
ESCALATION_FAILURES = Counter(
    "ilert_escalation_step_failures", "Escalation steps that failed and were retried later or parked.")

# --- notifications ----------------------------------------------------------------------------------
NOTIFICATIONS_SENT = Counter(
    "ilert_notifications_sent", "Messages a provider took, by channel and provider.", ["channel", "provider"])
PROVIDER_ERRORS = Counter(
    "ilert_provider_errors", "Failed provider calls, by channel and kind (transient, permanent, unknown: the "
    "outcome is not known and is looked up; crash: ilert's handler failed).", ["channel", "kind"])

# --- connectors -------------------------------------------------------------------------------------
CONNECTOR_DELIVERIES = Counter(
    "ilert_connector_deliveries", "Connector invocation attempts, by target kind and outcome "
    "(succeeded, failed: final, retry: tried again later).", ["target", "outcome"])

# --- uptime -----------------------------------------------------------------------------------------
UPTIME_CHECKS = Counter(
    "ilert_uptime_checks", "Uptime checks recorded, by check type and outcome.", ["check_type", "outcome"])
UPTIME_LATENESS = Histogram(
    "ilert_uptime_check_lateness_seconds", "How late each uptime check started: its start minus its due time.",
    ["check_type"], buckets=LATENESS_BUCKETS)

# --- the ticker and kicked tasks --------------------------------------------------------------------
TICKER_RUNS = Counter(
    "ilert_ticker_runs", "Periodic task runs taken by a ticker (ilert/ticker.py), by task and outcome.",
    ["task", "outcome"])
TICKER_SECONDS = Histogram(
    "ilert_ticker_run_duration_seconds", "How long each periodic task run took.", ["task"],
    buckets=DURATION_BUCKETS)
TICKER_LAST_RUN = Gauge(
    "ilert_ticker_last_run_timestamp_seconds", "When a periodic task last finished a run, in any process.",
    ["task"], multiprocess_mode="max")
LOCAL_KICKS_WAITING = Gauge(
    "ilert_local_kicks_waiting", "Kicked tasks waiting in the embedded runner's threads (no broker).",
    multiprocess_mode="livesum")


# --- one-line helpers for the instrumented sites ---------------------------------------------------


def observe_ingest(ingest):
    """Decorates alerts.services.ingest(source, event): counts each event by its outcome and times it."""
    @functools.wraps(ingest)
    def wrapper(source, event, **kwargs):
        started = time.perf_counter()
        integration = source.integration_type
        outcome = "refused"
        try:
            result = ingest(source, event, **kwargs)
            outcome = result.code
            if outcome == "NEW_INCIDENT_CREATED":
                INCIDENTS_OPENED.labels(integration, result.incident.priority).inc()
            return result
        except DomainError:
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            INGEST_EVENTS.labels(integration, outcome).inc()
            INGEST_SECONDS.labels(integration).observe(time.perf_counter() - started)

    return wrapper


def escalation_steps(incidents, now):
    """The engine is about to step these incidents at `now`: counted (with their lateness) once the
    step commits, so a batch that rolls back and is stepped again one by one counts each step once."""
    from django.db import transaction  # no Django at the top: gunicorn's master loads this module

    lateness = [(now - incident.next_escalation_at).total_seconds() for incident in incidents
                if incident.next_escalation_at is not None]
    transaction.on_commit(functools.partial(_stepped, len(incidents), lateness))


def _stepped(count, lateness):
    ESCALATION_STEPS.inc(count)
    for seconds in lateness:
        ESCALATION_LATENESS.observe(max(0.0, seconds))


def provider_error(channel, exc=None, *, crashed=False):
    kind = "crash" if crashed else "unknown" if exc.unknown else "permanent" if exc.permanent else "transient"
    PROVIDER_ERRORS.labels(channel, kind).inc()


def connector_delivery(kind, status):
    CONNECTOR_DELIVERIES.labels(kind, {"pending": "retry"}.get(status, status)).inc()


def uptime_checks(items, monitors):
    """Recorded uptime checks (services.Checked) and their monitors (None: a stale claim, not counted)."""
    for item, monitor in zip(items, monitors, strict=True):
        if monitor is None:
            continue
        UPTIME_CHECKS.labels(monitor.check_type, item.result.outcome).inc()
        if item.due_at is not None:
            late = (item.started_at - item.due_at).total_seconds()
            UPTIME_LATENESS.labels(monitor.check_type).observe(max(0.0, late))


def rate_limited(keys, wait):
    """ilert.ratelimit: `keys[0]` names the limit (the rest may be personal: never a label)."""
    if wait:
        RATE_LIMIT_REFUSALS.labels(keys[0] if keys else "unnamed").inc()
    return wait


def ticker_run(name, run):
    """Run a periodic task, counted and timed."""
    started = time.perf_counter()
    outcome = "failed"
    try:
        result = run()
        outcome = "ok"
        return result
    finally:
        TICKER_RUNS.labels(name, outcome).inc()
        TICKER_SECONDS.labels(name).observe(time.perf_counter() - started)
        TICKER_LAST_RUN.labels(name).set(time.time())


# --- the files of multiprocess mode ------------------------------------------------------------------


def clean(directory=MULTIPROC_DIR):
    """Empty the directory before the processes that write it start (manage.py run does this)."""
    if not directory:
        return
    path = Path(directory)
    if path.is_dir():
        for entry in path.iterdir():
            if entry.suffix == ".db":
                entry.unlink(missing_ok=True)
            elif entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def process_dead(pid):
    """A child process (gunicorn worker, the embedded ticker) has exited: its live gauges go. Its
    counters stay, so totals never fall back."""
    if MULTIPROC_DIR:
        multiprocess.mark_process_dead(identity(pid), MULTIPROC_DIR)
