"""bench/intake_outage — how long an Event API request takes while Redis is up, refusing connections
(stopped) or hanging (accepts and never answers: paused, overloaded, a half-open connection).
PostgreSQL stays up; the shared Redis is never stopped (a closed port and a local silent socket stand
in for it). Prints figures; not a test.

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python -m bench.intake_outage [--events 300] [--workers 2]

Uses the database `<name>_bench` (as bench/ingest does) and gunicorn (threaded workers, as
deployed). Per scenario: events sent one after another, each with a new incident key → answers
by status, p50/p99/max latency. The rate limiter and the kicks each give a failing Redis at most
REDIS_TIMEOUT_SECONDS, once per REDIS_RETRY_SECONDS and web process.
"""

import argparse
import os
import socket
import statistics
import sys
import threading
import time
import uuid

import httpx

from bench.ingest.__main__ import bench_database_url, ensure_database, free_port, setup_django, start_gunicorn


class SilentRedis:
    """Accepts connections, never answers."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(100)
        self.port = self.server.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.server.accept()[0])
            except OSError:
                return

    def close(self):
        self.server.close()
        for conn in self.held:
            conn.close()


def run(database_url, redis_url, key, events, workers, threads):
    os.environ["REDIS_URL"] = redis_url
    port = free_port()
    process = start_gunicorn(database_url, port, workers, threads)
    try:
        statuses, took = {}, []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            run_id = uuid.uuid4().hex[:8]
            for i in range(events):
                started = time.perf_counter()
                response = client.post("/api/events", json={"integrationKey": key, "eventType": "ALERT",
                                                             "summary": f"outage bench {i}",
                                                             "alertKey": f"{run_id}-{i}"})
                took.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        return statuses, took
    finally:
        process.terminate()
        process.wait(timeout=15)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        sys.exit("bench/intake_outage needs REDIS_URL (the scenario 'Redis up')")
    url, name = bench_database_url()
    ensure_database(url, name)
    setup_django(url)
    from django.conf import settings

    from accounts.models import Tenant
    from alerts import services

    run_id = uuid.uuid4().hex[:8]
    tenant = Tenant.objects.create(name=f"Outage bench {run_id}", slug=f"outage-{run_id}")
    key = services.create_alert_source(tenant, name="outage bench", integration_type="api").integration_key

    silent = SilentRedis()
    scenarios = [("Redis up", redis_url), ("Redis refusing connections", "redis://127.0.0.1:1/0"),
                 ("Redis hanging", f"redis://127.0.0.1:{silent.port}/0")]
    print(f"Event API, {args.events} events one after another, gunicorn {args.workers}x{args.threads}; "
          f"REDIS_TIMEOUT_SECONDS={settings.REDIS_TIMEOUT_SECONDS}, REDIS_RETRY_SECONDS={settings.REDIS_RETRY_SECONDS}")
    try:
        for label, redis in scenarios:
            statuses, took = run(url, redis, key, args.events, args.workers, args.threads)
            took_ms = sorted(t * 1000 for t in took)
            p99 = took_ms[min(len(took_ms) - 1, int(len(took_ms) * 0.99))]
            slow = sum(1 for t in took_ms if t > 200)
            print(f"{label:28} answers {dict(sorted(statuses.items()))}  p50 {statistics.median(took_ms):6.1f} ms  "
                  f"p99 {p99:6.1f} ms  max {took_ms[-1]:6.1f} ms  over 200 ms: {slow}  "
                  f"run {sum(took):5.1f} s")
            slowest = sorted(range(len(took)), key=took.__getitem__)[-4:][::-1]
            print(f"{'':28} slowest: " + ", ".join(f"#{i} {took[i] * 1000:.0f} ms" for i in slowest))
    finally:
        silent.close()
        import redis as redis_client

        redis_client.Redis.from_url(redis_url).delete("celery")  # the kicks nobody consumed


if __name__ == "__main__":
    main()
