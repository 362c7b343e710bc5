"""bench/ingest — how fast the Event API accepts events, against a bare DRF endpoint doing one
INSERT, and an alert storm that must lose nothing. Prints figures; not a test.

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert .venv/bin/python -m bench.ingest

It uses the database `<name>_bench` next to DATABASE_URL's (created and migrated if missing), runs
the app under gunicorn (bench.ingest.settings: the product plus /bench/bare, a high
INGEST_RATE_LIMIT) on 127.0.0.1, and drives it from 127.0.0.1 with `wrk` (apt-get install wrk;
without it, a Python asyncio/httpx load generator). Then:

1. Event API: POST /api/events, ALERT events over 1,000 incident keys whose incidents are
   already open (so the steady state of a noisy source: each event appended to its incident's
   timeline), N seconds → accepted events/s, p50/p99 latency.
2. Bare DRF endpoint: the same JSON to /bench/bare (parse, one INSERT) → the same figures, and
   the ratio Event API / bare. 1 and 2 run --rounds times (3), alternating which goes first; the
   medians are printed, and each round's ratio.
3. Open loop: events at a fixed rate (--rate, 200/s), latency from each event's due time.
4. Alert storm: 10,000 events over 100 keys as fast as the server takes them (every 429/5xx or
   connection error retried) → incidents (must be 100), events lost (must be 0).
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from bench import cpu

ROOT = Path(__file__).resolve().parents[2]


def bench_database_url():
    base = os.environ.get("DATABASE_URL") or "postgres://ilert:ilert@127.0.0.1:5432/ilert"
    parsed = urlparse(base)
    if not parsed.scheme.startswith("postgres"):
        sys.exit("bench/ingest needs PostgreSQL: set DATABASE_URL=postgres://…")
    name = parsed.path.lstrip("/") or "ilert"
    if not name.endswith("_bench"):
        name += "_bench"
    return urlunparse(parsed._replace(path="/" + name)), name


def ensure_database(url, name):
    import psycopg2

    parsed = urlparse(url)
    admin = psycopg2.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username,
                             password=parsed.password, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def setup_django(url):
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.ingest.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_bare_event "
                       "(id bigserial PRIMARY KEY, body jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now())")


# What an event, a ping and the bare endpoint write. Every appended event leaves a dead version of
# its incident's row (and of its reports mark) behind; autovacuum cleans them up in production, but
# it is off on these machines, and a run after a few others then measured long version chains (the
# append statement under pgbench: 64 statements/s before a VACUUM, 2,993/s after).
WRITTEN = ("alerts_incident", "alerts_incidentlogentry", "reports_dirtyincident", "alerts_alertsource",
           "bench_bare_event")


def vacuum(tables=WRITTEN):
    """VACUUM ANALYZE `tables` (what the intake writes), standing in for autovacuum between runs."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


def vacuum_all():
    """VACUUM ANALYZE every table of the product: what the paging benches write spans most of them.
    Says so when autovacuum is off: a VACUUM before a run does not stand in for it during the run."""
    from django.apps import apps
    from django.db import connection

    existing = set(connection.introspection.table_names())
    vacuum(sorted({model._meta.db_table for model in apps.get_models()} & existing))
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] != "on":
            print("  note: autovacuum is off on this server (production runs it): runs back to back slow down "
                  "(docs/scaling.md); ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf(); to measure with it",
                  flush=True)


def make_sources():
    from accounts.models import Tenant
    from alerts import services

    run = uuid.uuid4().hex[:8]
    tenant = Tenant.objects.create(name=f"Bench {run}", slug=f"bench-{run}")
    load = services.create_alert_source(tenant, name="bench load", integration_type="api")
    storm = services.create_alert_source(tenant, name="bench storm", integration_type="api")
    from alerts.ingest import EventType, InboundEvent

    for i in range(1000):  # the incidents the throughput run appends to
        services.ingest(load, InboundEvent(EventType.ALERT, summary=f"bench event {i}", incident_key=f"k{i}"))
    return tenant, load, storm


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url, port, workers, threads):
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "bench.ingest.settings",
           "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "gunicorn", "ilert.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--threads", str(threads), "--log-level", "warning",
               "--backlog", "2048"]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    import httpx

    deadline = time.monotonic() + 180  # a loaded machine starts four workers slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    sys.exit("gunicorn did not come up")


# --- load generators ---------------------------------------------------------------------------

# Each wrk thread starts half-way round the 1,000 keys from the other: started together, they walked
# the keys in step and sent events for the same incident at the same moment, so the Event API
# measured its own row-lock waits (an artefact: the storm below is where events collide on purpose).
WRK_SCRIPT = """
local counter = 0
local threads = 0
function setup(thread)
  thread:set("offset", threads * 500)
  threads = threads + 1
end
function init(args)
  counter = offset
end
request = function()
  counter = counter + 1
  local body = string.format('{"integrationKey":"%s","eventType":"ALERT","summary":"bench event %d",'
    .. '"alertKey":"k%d","details":"sent by bench/ingest"}', "KEY", counter, counter % 1000)
  return wrk.format("POST", "PATH", {["Content-Type"] = "application/json"}, body)
end
"""


def _ms(text):
    match = re.match(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        return float("nan")  # wrk prints "-nanus" when no request completed
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url, path, key, seconds, connections):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.replace("KEY", key).replace("PATH", path))
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    total = int(re.search(r"(\d+) requests in ([\d.]+)(ms|s)", out).group(1))
    duration = re.search(r"requests in ([\d.]+)(ms|s)", out)
    elapsed = float(duration.group(1)) / (1000 if duration.group(2) == "ms" else 1)
    failed = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "accepted_per_s": (total - failed) / elapsed, "requests": total, "refused": failed,
        "p50_ms": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),
        "p99_ms": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),
        "socket_errors": errors.group(1) if errors else "none",
    }


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: far less CPU than a full client
    library, which matters when the load generator shares two cores with the server."""

    def __init__(self, host, port):
        self.host, self.port, self.reader, self.writer = host, port, None, None

    async def post(self, path, body):
        reused = self.writer is not None
        if not reused:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        data = body.encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        try:
            await self.writer.drain()
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            self.close()
            if reused and not getattr(exc, "partial", b""):
                # The server closed a keep-alive connection that sat idle (gunicorn: after 2 s) before
                # it read this request: send it again on a new one, as HTTP clients do.
                return await self.post(path, body)
            raise
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        payload = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, payload

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _event(key, i, keys, prefix="k"):
    return json.dumps({"integrationKey": key, "eventType": "ALERT", "summary": f"bench event {i % keys}",
                       "alertKey": f"{prefix}{i % keys}", "details": f"sent by bench/ingest, event {i}"})


async def _python_load(port, path, key, seconds, connections):
    latencies, refused, counter = [], 0, 0
    deadline = time.monotonic() + seconds

    async def worker():
        nonlocal refused, counter
        connection = Connection("127.0.0.1", port)
        while time.monotonic() < deadline:
            counter += 1
            started = time.perf_counter()
            status, _, _ = await connection.post(path, _event(key, counter, 1000))
            latencies.append((time.perf_counter() - started) * 1000)
            refused += status >= 300
        connection.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {"accepted_per_s": (len(latencies) - refused) / elapsed, "requests": len(latencies), "refused": refused,
            "p50_ms": latencies[len(latencies) // 2], "p99_ms": latencies[int(len(latencies) * 0.99)],
            "socket_errors": "n/a"}


def load(port, path, key, seconds, connections):
    """A warm-up, then the measured run: its figures, with `cpu` (bench.cpu.Split) of the run."""
    url = f"http://127.0.0.1:{port}{path}"
    if shutil.which("wrk"):
        run_wrk(url, path, key, 3, connections)  # warm-up
        with cpu.measure() as split:
            figures = run_wrk(url, path, key, seconds, connections)
        return {**figures, "cpu": split}, "wrk"
    asyncio.run(_python_load(port, path, key, 3, connections))
    with cpu.measure() as split:
        figures = asyncio.run(_python_load(port, path, key, seconds, connections))
    return {**figures, "cpu": split}, "python asyncio (raw HTTP/1.1)"


async def open_loop(port, path, key, rate, seconds, connections=64):
    """Events sent at a fixed rate whatever the answers do (open loop): each latency is measured from
    the moment the event was due, so a server that falls behind shows it (no coordinated omission)."""
    start, total = time.monotonic(), int(rate * seconds)
    idle = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection("127.0.0.1", port))
    latencies, refused = [], 0

    async def send(i):
        nonlocal refused
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        connection = await idle.get()
        try:
            status, _, _ = await connection.post(path, _event(key, i, 1000))
        except (OSError, asyncio.IncompleteReadError):
            status = 599
        idle.put_nowait(connection)
        latencies.append((time.monotonic() - due) * 1000)
        refused += status != 202

    await asyncio.gather(*(send(i) for i in range(total)))
    latencies.sort()
    return {"sent": total, "refused": refused, "p50_ms": latencies[len(latencies) // 2],
            "p99_ms": latencies[int(len(latencies) * 0.99)], "max_ms": latencies[-1]}


async def storm(port, key, events, keys, connections):
    retries = {"429": 0, "5xx": 0, "connection": 0}
    queue = asyncio.Queue()
    for i in range(events):
        queue.put_nowait(i)
    accepted, latencies = 0, []

    async def worker():
        nonlocal accepted
        connection = Connection("127.0.0.1", port)
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                connection.close()
                return
            body = _event(key, i, keys, prefix="storm-")
            while True:
                started = time.perf_counter()
                try:
                    status, headers, payload = await connection.post("/api/events", body)
                except (OSError, asyncio.IncompleteReadError):
                    retries["connection"] += 1
                    await asyncio.sleep(0.05)
                    continue
                if status == 202:
                    accepted += 1
                    latencies.append((time.perf_counter() - started) * 1000)
                    break
                if status == 429:
                    retries["429"] += 1
                    await asyncio.sleep(float(headers.get("retry-after", "1")))
                elif status >= 500:
                    retries["5xx"] += 1
                    await asyncio.sleep(0.05)
                else:
                    raise SystemExit(f"storm event {i} refused: {status} {payload[:200]!r}")

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return accepted, elapsed, retries, latencies


def compare(port, key, args):
    """The Event API and the bare endpoint in `args.rounds` rounds, alternating which goes first
    (what one run leaves behind, vacuum or a checkpoint, must not always fall on the same side):
    the median of each figure, and each round's ratio."""
    rounds = {"/api/events": [], "/bench/bare": []}
    for n in range(args.rounds):
        for path in (("/api/events", "/bench/bare") if n % 2 == 0 else ("/bench/bare", "/api/events")):
            vacuum()
            figures, tool = load(port, path, key, args.seconds, args.connections)
            rounds[path].append(figures)
    medians = {}
    for path, runs in rounds.items():
        medians[path] = {name: statistics.median(run[name] for run in runs) for name in
                         ("accepted_per_s", "p50_ms", "p99_ms", "requests", "refused")}
        medians[path]["socket_errors"] = "; ".join(sorted({run["socket_errors"] for run in runs}))
        medians[path]["cpu"] = cpu.combined(run["cpu"] for run in runs)
        medians[path]["accepted"] = sum(run["requests"] - run["refused"] for run in runs)
    medians["/api/events"]["ratios"] = [a["accepted_per_s"] / b["accepted_per_s"]
                                        for a, b in zip(rounds["/api/events"], rounds["/bench/bare"], strict=True)]
    return medians["/api/events"], medians["/bench/bare"], tool


def print_comparison(event_api, bare, tool, rounds):
    print(f"load generator: {tool}; medians of {rounds} rounds, the order alternating "
          f"(Event API first in odd rounds)")
    for label, figures in (("Event API  (POST /api/events)", event_api), ("bare DRF   (one INSERT)   ", bare)):
        print(f"  {label}: {figures['accepted_per_s']:8.0f} accepted events/s   p50 {figures['p50_ms']:6.1f} ms"
              f"   p99 {figures['p99_ms']:6.1f} ms   ({figures['requests']} requests, {figures['refused']} "
              f"refused, socket errors: {figures['socket_errors']})")
        if line := figures["cpu"].per(figures["accepted"], "event"):
            print(f"      {line}")
    print(f"  ratio Event API / bare: {event_api['accepted_per_s'] / bare['accepted_per_s']:.2f}   "
          f"(per round: {', '.join(f'{r:.2f}' for r in event_api['ratios'])})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each throughput run")
    parser.add_argument("--rounds", type=int, default=3, help="throughput runs of each endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--rate", type=int, default=200, help="events/s of the open-loop run")
    parser.add_argument("--storm-events", type=int, default=10_000)
    parser.add_argument("--storm-keys", type=int, default=100)
    args = parser.parse_args()

    url, name = bench_database_url()
    ensure_database(url, name)
    setup_django(url)
    _tenant, load_source, storm_source = make_sources()
    port = free_port()
    server = start_gunicorn(url, port, args.workers, args.threads)
    try:
        print(f"bench/ingest: gunicorn {args.workers} workers x {args.threads} threads on 127.0.0.1:{port}, "
              f"PostgreSQL database {name}, {os.cpu_count()} CPUs, {args.connections} connections, "
              f"{args.seconds} s per run")
        event_api, bare, tool = compare(port, load_source.integration_key, args)
        print_comparison(event_api, bare, tool, args.rounds)
        vacuum()
        steady = asyncio.run(open_loop(port, "/api/events", load_source.integration_key, args.rate, args.seconds))
        print(f"open loop: {args.rate} events/s for {args.seconds} s to the Event API (appends): p50 "
              f"{steady['p50_ms']:.1f} ms   p99 {steady['p99_ms']:.1f} ms   max {steady['max_ms']:.1f} ms   "
              f"({steady['sent']} sent, {steady['refused']} not 202; target p99 < 50 ms at 200 events/s)")

        vacuum()
        with cpu.measure() as split:
            accepted, elapsed, retries, latencies = asyncio.run(
                storm(port, storm_source.integration_key, args.storm_events, args.storm_keys, 64))
        from django.db.models import Sum

        from alerts.models import Incident, IncidentLogEntry, LogKind

        incidents = Incident.objects.filter(alert_source=storm_source)
        counted = incidents.aggregate(total=Sum("event_count"))["total"] or 0
        logged = IncidentLogEntry.objects.filter(incident__alert_source=storm_source, kind=LogKind.EVENT).count()
        print(f"alert storm: {args.storm_events} events over {args.storm_keys} keys in {elapsed:.1f} s "
              f"({accepted / elapsed:.0f} events/s, 64 connections, p50 {latencies[len(latencies) // 2]:.0f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99)]:.0f} ms), retries {retries}")
        if line := split.per(accepted, "event"):
            print(f"  {line}")
        print(f"  storm rate / bare DRF rate in this run: {accepted / elapsed / bare['accepted_per_s']:.2f} "
              f"(target: 10,000 events in under 10 s)")
        print(f"  incidents: {incidents.count()} (must be {args.storm_keys})   "
              f"events lost: {args.storm_events - counted} (must be 0; {counted} counted on incidents, "
              f"{logged} on timelines)")
        ok = incidents.count() == args.storm_keys and counted == args.storm_events == logged
        print("  storm: OK" if ok else "  storm: FAILED")
        return 0 if ok else 1
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
