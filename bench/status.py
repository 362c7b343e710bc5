"""Benchmark: a public status page with 50 services (5 groups), 90 days of history and linked
uptime monitors, served by gunicorn on PostgreSQL (Redis as the cache when REDIS_URL is set).

Prints, for the HTML page and summary.json:
- first render: the first request after a change (nothing cached), median and max of 10;
- closed loop (as fast as 8 connections go; wrk when installed): requests/s, p50, p99,
  unconditional and conditional (If-None-Match: the current ETag, answered 304);
- open loop at a fixed rate (default 200 requests/s, the issue's target) for conditional
  requests: p50, p99, and how many came back late.
CPU milliseconds per request in-process (unconditional, conditional), the same open loop against
/healthz (no database: the floor of this machine at that moment), and
the machine's load average before and after (the machine is shared: read figures with it).

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert_h2 REDIS_URL=redis://127.0.0.1:6379/4 \\
        .venv/bin/python -m bench.status [--seconds 10] [--rate 200] [--workers 2] [--threads 4]

Uses the database `<name>_bench` (as bench/ingest does); the bench tenant is removed at the end.
Targets (issue 17): p99 < 20 ms at 200 requests/s for conditional requests, first render < 100 ms.
"""

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta

from bench.ingest.__main__ import _ms, bench_database_url, ensure_database, free_port, setup_django, start_gunicorn

STATUSES = ["operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"]


def build(services_count=50, days=90, monitors=10):
    """The page: services in groups, a random but realistic history, monitors with daily roll-ups,
    an open incident with updates, a resolved one and scheduled maintenance."""
    from accounts.models import Tenant
    from ilert import clock
    from status import services
    from status.models import Service, ServiceStatusChange
    from uptime.models import CheckRollup
    from uptime.services import create_monitor

    rng = random.Random(17)
    run = uuid.uuid4().hex[:8]
    tenant = Tenant.objects.create(name=f"Status bench {run}", slug=f"status-bench-{run}")
    now = clock.now()
    start = now - timedelta(days=days)
    groups = [services.create_group(tenant, name=f"Region {i + 1}") for i in range(5)]
    made = [services.create_service(tenant, name=f"Service {i + 1:02d}", group=groups[i % 5])
            for i in range(services_count)]
    Service.objects.filter(tenant=tenant).update(created_at=start - timedelta(days=1))
    history = []
    for service in made:
        status, at = "operational", start
        while True:
            at += timedelta(hours=rng.expovariate(1 / 30))  # a change every ~30 h
            if at >= now:
                break
            new = "operational" if status != "operational" else rng.choice(STATUSES[1:])
            history.append(ServiceStatusChange(tenant=tenant, service=service, at=at, old_status=status,
                                               new_status=new, cause="bench"))
            status = new
        Service.objects.filter(pk=service.pk).update(status=status, base_status=status)
    ServiceStatusChange.objects.bulk_create(history, batch_size=2000)
    rollups = []
    for i in range(monitors):
        monitor = create_monitor(tenant, name=f"bench monitor {i}", check_type="http",
                                 target="http://93.184.216.34/", paused=True)
        services.link_monitor(made[i], monitor)
        for d in range(days):
            day = (now - timedelta(days=days - d)).replace(hour=0, minute=0, second=0, microsecond=0)
            down = rng.choice([0, 0, 0, 0, 60, 600])
            rollups.append(CheckRollup(tenant=tenant, monitor=monitor, period="day", start=day, checks=1440,
                                       up=1440 - down // 60, down=down // 60, up_seconds=86400 - down,
                                       down_seconds=down))
    CheckRollup.objects.bulk_create(rollups, batch_size=2000)
    page = services.create_page(tenant, name="Bench status", slug=f"bench-{run}", services=made, published=True)
    incident = services.create_incident(tenant, title="Elevated API errors", message="Investigating",
                                        affected=[(made[0], "partial_outage"), (made[1], "degraded_performance")])
    for status_, text in (("identified", "A bad deploy"), ("monitoring", "Rolled back")):
        services.post_update(incident, status=status_, message=text)
    old = services.create_incident(tenant, title="Slow checkout", message="Looking",
                                   affected=[(made[2], "major_outage")])
    services.post_update(old, status="resolved", message="Fine again")
    services.schedule_maintenance(tenant, title="Database upgrade", message="Planned",
                                  scheduled_for=now + timedelta(days=2),
                                  scheduled_until=now + timedelta(days=2, hours=2), affected=made[10:20])
    return tenant, page, len(history)


# --- clients ----------------------------------------------------------------------------------------


class Connection:
    def __init__(self, port):
        self.port, self.reader, self.writer = port, None, None

    async def get(self, path, headers=""):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        await self.writer.drain()
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        await self.reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, fields

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _summary(latencies, elapsed, statuses):
    latencies.sort()
    return {"per_s": len(latencies) / elapsed, "p50_ms": latencies[len(latencies) // 2],
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], "statuses": statuses,
            "n": len(latencies)}


async def closed_loop(port, path, headers, seconds, connections=8):
    latencies, statuses = [], {}
    deadline = time.monotonic() + seconds

    async def worker():
        connection = Connection(port)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status, _ = await connection.get(path, headers)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return _summary(latencies, time.monotonic() - started, statuses)


async def open_loop(port, path, headers, seconds, rate, connections=16):
    """Requests sent on a fixed schedule (rate per second), whatever the answers do; latency counts
    from the scheduled time, so a server that falls behind shows it (no coordinated omission)."""
    latencies, statuses = [], {}
    queue = asyncio.Queue()
    started = time.perf_counter()
    total = int(seconds * rate)

    async def pacer():
        for i in range(total):
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(due)
        for _ in range(connections):
            queue.put_nowait(None)

    async def worker():
        connection = Connection(port)
        while (due := await queue.get()) is not None:
            status, _ = await connection.get(path, headers)
            latencies.append((time.perf_counter() - due) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    await asyncio.gather(pacer(), *(worker() for _ in range(connections)))
    return _summary(latencies, time.perf_counter() - started, statuses)


def wrk(port, path, headers, seconds, connections=8):
    header_args = ["-H", headers.strip()] if headers.strip() else []
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", *header_args,
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    import re

    total = int(re.search(r"(\d+) requests in", out).group(1))
    elapsed = re.search(r"requests in ([\d.]+)(ms|s)", out)
    seconds_ = float(elapsed.group(1)) / (1000 if elapsed.group(2) == "ms" else 1)
    bad = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    return {"per_s": total / seconds_, "p50_ms": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),
            "p99_ms": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)), "statuses": {"non-2xx/3xx": bad},
            "n": total}


def first_render(port, path, page, touches=10):
    """The first request after a change: nothing cached for the new ETag."""
    from status import services

    took = []
    connection = Connection(port)
    for _ in range(touches):
        services.touch_pages([], pages=[page])
        started = time.perf_counter()
        status, _ = asyncio.run(connection.get(path))
        took.append((time.perf_counter() - started) * 1000)
        assert status == 200, status
        connection = Connection(port)
    return statistics.median(took), max(took)


def cpu_per_request(path, headers, count=300):
    """CPU milliseconds one request costs in-process (Django's test client, this thread): what the
    application spends, whatever the machine's queueing does to wall-clock latency."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    assert client.get(path, **headers).status_code in (200, 304)
    started = time.process_time()
    for _ in range(count):
        client.get(path, **headers)
    return (time.process_time() - started) * 1000 / count


def _load():
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    url, name = bench_database_url()
    ensure_database(url, name)
    setup_django(url)
    print(f"load average before: {_load()} ({os.cpu_count()} CPUs)")
    tenant, page, changes = build()
    print(f"page: 50 services in 5 groups, {changes} status changes over 90 days, 10 monitors × 90 daily roll-ups")
    port = free_port()
    process = start_gunicorn(url, port, args.workers, args.threads)
    loader = "wrk" if shutil.which("wrk") else "python asyncio"
    print(f"gunicorn: {args.workers} workers × {args.threads} threads; cache: "
          f"{'Redis' if os.environ.get('REDIS_URL') else 'per-process memory'}; closed-loop client: {loader}")
    try:
        # The floor on this machine right now: the cheapest answer the product has (no database).
        floor = asyncio.run(open_loop(port, "/healthz", "", min(args.seconds, 5), args.rate))
        print(f"floor, /healthz open loop {args.rate:.0f} req/s: p50 {floor['p50_ms']:.1f} ms, "
              f"p99 {floor['p99_ms']:.1f} ms ({floor['statuses']})")
        paths = {"page": f"/status/{page.slug}/", "summary.json": f"/status/{page.slug}/api/v2/summary.json"}
        for label, path in paths.items():
            median, worst = first_render(port, path, page)
            print(f"\n{label}: first render (nothing cached) median {median:.1f} ms, max {worst:.1f} ms (target < 100)")
            page.refresh_from_db()
            status, fields = asyncio.run(Connection(port).get(path))
            etag = fields["etag"]
            for kind, headers in (("unconditional", ""), ("conditional", f"If-None-Match: {etag}\r\n")):
                if loader == "wrk":
                    result = wrk(port, path, headers, args.seconds)
                else:
                    result = asyncio.run(closed_loop(port, path, headers, args.seconds))
                print(f"  closed loop, {kind:13}: {result['per_s']:7.0f} req/s, p50 {result['p50_ms']:.1f} ms, "
                      f"p99 {result['p99_ms']:.1f} ms ({result['n']} requests, {result['statuses']})")
            cpu = {kind: cpu_per_request(path, headers) for kind, headers in
                   (("unconditional", {}), ("conditional", {"HTTP_IF_NONE_MATCH": etag}))}
            print(f"  CPU per request in-process: unconditional {cpu['unconditional']:.2f} ms, "
                  f"conditional {cpu['conditional']:.2f} ms")
            result = asyncio.run(open_loop(port, path, f"If-None-Match: {etag}\r\n", args.seconds, args.rate))
            print(f"  open loop {args.rate:.0f} req/s, conditional: p50 {result['p50_ms']:.1f} ms, "
                  f"p99 {result['p99_ms']:.1f} ms (target < 20; {result['n']} requests, {result['statuses']})")
    finally:
        process.terminate()
        process.wait(timeout=15)
        print(f"\nload average after: {_load()}")
        tenant.delete()


if __name__ == "__main__":
    sys.exit(main())
