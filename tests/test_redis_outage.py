"""Redis down (or hanging) does not stop intake while PostgreSQL is fine: rate limits count in process
memory (logged once per outage) and go back to Redis when it answers again; kicks are skipped for
the sweepers after one short attempt, instead of hanging the request. The shared Redis is never
touched: "down" is a closed port or a local socket that accepts and never answers, "back" is a
throwaway redis-server started on that port."""

import json
import logging
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest
import redis
from celery import Celery
from django.test import Client

from alerts.models import AlertSource, Incident
from ilert import kick, ratelimit
from tests.alerts.factories import make_source


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def redis_server(port):
    """A throwaway redis-server on 127.0.0.1:`port`, stopped by its own pid."""
    process = subprocess.Popen(  # noqa: S603
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield client
    finally:
        process.terminate()
        process.wait(timeout=10)


class SilentBroker:
    """A socket that accepts connections and never answers: a Redis that hangs (paused, overloaded,
    half-open connection). Counts the connections it was asked for."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(50)
        self.port = self.server.getsockname()[1]
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self):
        self.server.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def silent():
    broker = SilentBroker()
    yield broker
    broker.close()


@pytest.fixture
def limits_at(settings):
    """Point the rate limiter at another Redis URL for one test."""
    def point(url):
        settings.RATELIMIT_STORAGE_URL = url
        ratelimit.reset()

    yield point
    ratelimit.reset()


@pytest.fixture(autouse=True)
def _fresh_kicks():
    kick.reset()
    yield
    kick.reset()


def finishes(function, ceiling=120):
    """Run `function` in a thread; whether it finished. The ceiling only turns a hang into a failure
    instead of a stalled suite: how long a call may wait is asserted on the configured socket
    timeouts (`socket_timeouts`), never with a stopwatch, which would measure the machine."""
    thread = threading.Thread(target=function, daemon=True)
    thread.start()
    thread.join(ceiling)
    return not thread.is_alive()


def socket_timeouts(options):
    """(connect, read) timeouts of a Redis client's connection options, as the client will use them."""
    return options.get("socket_connect_timeout"), options.get("socket_timeout")


def outage_logs(caplog, name):
    return [r for r in caplog.records if r.name == name and r.levelno >= logging.WARNING]


# --- rate limits --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_events_and_pings_are_accepted_with_redis_down_and_limited_in_memory(tenant, limits_at, settings, caplog):
    limits_at("redis://127.0.0.1:1/0")  # nothing listens there
    settings.INGEST_RATE_LIMIT = "3/minute"
    source = make_source(tenant, integration_type="api")
    heartbeat = make_source(tenant, integration_type="heartbeat")
    body = json.dumps({"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "Disk full",
                       "alertKey": "disk"})

    answers = [Client().post("/api/events", body, content_type="application/json").status_code for _ in range(4)]
    assert answers == [202, 202, 202, 429]  # the local limit still holds
    assert Incident.objects.get().event_count == 3
    assert Client().get(f"/api/heartbeats/{heartbeat.integration_key}").status_code == 202
    assert AlertSource.objects.get(pk=heartbeat.pk).last_ping_at is not None

    (logged,) = outage_logs(caplog, "ilert.ratelimit")  # once for the outage, not once per request
    assert "Redis is unreachable" in logged.getMessage()


@pytest.mark.redis
def test_limits_go_back_to_redis_when_it_answers_again(limits_at, settings, caplog):
    settings.REDIS_RETRY_SECONDS = 0  # try Redis on every call: the outage must still be logged once
    port = free_port()
    limits_at(f"redis://127.0.0.1:{port}/0")
    assert [ratelimit.hit("2/minute", "k") for _ in range(3)][:2] == [0, 0]  # counted locally
    assert len(outage_logs(caplog, "ilert.ratelimit")) == 1

    with redis_server(port) as server:
        assert ratelimit.hit("2/minute", "k") == 0  # Redis is back: its count starts afresh
        assert server.keys("LIMITS*"), "the hit was not counted in Redis"
        assert ratelimit.hit("2/minute", "k") == 0
        assert ratelimit.hit("2/minute", "k") > 0  # and Redis enforces the limit
        logs = [r.getMessage() for r in outage_logs(caplog, "ilert.ratelimit")]
        assert len(logs) == 2 and "reachable again" in logs[1]


def test_a_hanging_redis_delays_one_call_per_retry_interval_by_the_timeout_at_most(limits_at, settings, silent):
    settings.REDIS_TIMEOUT_SECONDS = 0.2
    settings.REDIS_RETRY_SECONDS = 3600
    limits_at(f"redis://127.0.0.1:{silent.port}/0")
    waits = []
    assert finishes(lambda: waits.extend(ratelimit.hit("5/minute", "k") for _ in range(20)))
    assert waits[:5] == [0] * 5 and all(waits[5:])  # limited in memory meanwhile
    assert len(silent.connections) == 1  # one attempt, no retries, then not again until the interval
    client = ratelimit._limiter().shared.storage.storage  # the redis client the limiter calls
    assert socket_timeouts(client.connection_pool.connection_kwargs) == (0.2, 0.2)
    assert client.connection_pool.connection_kwargs["retry"].get_retries() == 0


def test_logins_keep_their_signature(limits_at):
    """accounts' login throttling calls hit(limit, *keys) and retry_after(limit, *keys)."""
    limits_at("memory://")
    assert ratelimit.hit("1/minute", "login", "a@b") == 0
    assert ratelimit.hit("1/minute", "login", "a@b") > 0
    assert ratelimit.retry_after("1/minute", "login", "a@b") > 0
    assert ratelimit.retry_after("1/minute", "login", "other") == 0


# --- kicks --------------------------------------------------------------------------------------


def probe_task(broker_url):
    # Not the current app, and not shared: shared tasks (escalation.tasks.step…) resolve the current
    # app when called, so a probe app left current would send later tests' kicks to a dead broker.
    app = Celery(f"probe-{broker_url}", broker=broker_url, set_as_current=False)

    @app.task(name="probe.kick", shared=False)
    def probe():
        pass

    return probe


def test_a_kick_to_a_hanging_broker_takes_one_short_attempt_then_kicks_are_skipped(settings, silent, caplog):
    settings.REDIS_TIMEOUT_SECONDS = 0.2
    settings.REDIS_RETRY_SECONDS = 3600
    task = probe_task(f"redis://127.0.0.1:{silent.port}/0")
    assert finishes(lambda: [kick.now(task) for _ in range(10)])  # no exception, no hang
    assert len(silent.connections) == 1
    with kick._pool(task.app).acquire(block=False) as connection:  # what the kick was made with
        assert socket_timeouts(connection.transport_options) == (0.2, 0.2)
        assert connection.transport_options["max_retries"] == 0
    (logged,) = outage_logs(caplog, "ilert.kick")
    assert "sweepers pick the work up" in logged.getMessage()


def test_a_kick_to_a_closed_port_is_not_retried(settings, caplog):
    task = probe_task("redis://127.0.0.1:1/0")
    assert finishes(lambda: [kick.now(task) for _ in range(10)])
    assert len(outage_logs(caplog, "ilert.kick")) == 1


@pytest.mark.redis
def test_kicks_are_published_again_when_the_broker_is_back(settings, caplog):
    settings.REDIS_RETRY_SECONDS = 0
    port = free_port()
    task = probe_task(f"redis://127.0.0.1:{port}/0")
    kick.now(task)
    kick.now(task)
    assert len(outage_logs(caplog, "ilert.kick")) == 1
    with redis_server(port) as server:
        kick.now(task)
        assert server.llen("celery") == 1  # the kick reached the queue
        logs = [r.getMessage() for r in outage_logs(caplog, "ilert.kick")]
        assert len(logs) == 2 and "answers again" in logs[1]


@pytest.mark.django_db
def test_a_coalesced_kick_to_a_hanging_broker_takes_one_short_attempt_then_kicks_are_skipped(
        settings, silent, caplog, django_capture_on_commit_callbacks):
    """The coalescing count (ilert/kick.py) lives in the broker's Redis: a hang there costs one
    request one short attempt, as a plain kick's would, not one for the count and one to publish."""
    settings.REDIS_TIMEOUT_SECONDS = 0.2
    settings.REDIS_RETRY_SECONDS = 3600
    settings.TASK_RUNNER, settings.CELERY_BROKER_URL = "celery", f"redis://127.0.0.1:{silent.port}/0"
    task = probe_task(settings.CELERY_BROKER_URL)

    def kicks():
        for _ in range(10):
            with django_capture_on_commit_callbacks(execute=True):
                kick.coalesced(task, "probe")

    assert finishes(kicks)  # no exception, no hang
    assert len(silent.connections) == 1
    client = kick._marks()
    assert socket_timeouts(client.connection_pool.connection_kwargs) == (0.2, 0.2)
    assert client.connection_pool.connection_kwargs["retry"].get_retries() == 0
    (logged,) = outage_logs(caplog, "ilert.kick")
    assert "sweepers pick the work up" in logged.getMessage()
