"""bench/heartbeat — how fast heartbeat pings are taken, against a plain Django view doing the same
UPDATE, in the same run under the same gunicorn. Prints figures; not a test.

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert .venv/bin/python -m bench.heartbeat

healthchecks' own ping endpoint is not installed here (no network for a side-by-side run), so the
floor is /bench/ping/<key> (bench.ingest.urls): the same UPDATE of the source's row, without the
rate limit and the checks. Pings go to 100 heartbeat sources, round robin, over keep-alive
connections (bench.ingest's raw HTTP/1.1 client).
"""

import argparse
import asyncio
import os
import sys
import time

from bench.ingest.__main__ import bench_database_url, ensure_database, free_port, setup_django, start_gunicorn


async def _get(connection, path):
    if connection.writer is None:
        connection.reader, connection.writer = await asyncio.open_connection(connection.host, connection.port)
    connection.writer.write(f"GET {path} HTTP/1.1\r\nHost: {connection.host}\r\n\r\n".encode())
    await connection.writer.drain()
    head = await connection.reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    await connection.reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1])


async def _load(port, paths, seconds, connections):
    from bench.ingest.__main__ import Connection

    latencies, refused, counter = [], 0, 0
    deadline = time.monotonic() + seconds

    async def worker():
        nonlocal refused, counter
        connection = Connection("127.0.0.1", port)
        while time.monotonic() < deadline:
            counter += 1
            started = time.perf_counter()
            status = await _get(connection, paths[counter % len(paths)])
            latencies.append((time.perf_counter() - started) * 1000)
            refused += status != 202
        connection.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {"per_s": (len(latencies) - refused) / elapsed, "requests": len(latencies), "refused": refused,
            "p50_ms": latencies[len(latencies) // 2], "p99_ms": latencies[int(len(latencies) * 0.99)]}


def make_heartbeats(count):
    import uuid

    from accounts.models import Tenant
    from alerts import services

    run = uuid.uuid4().hex[:8]
    tenant = Tenant.objects.create(name=f"Bench heartbeat {run}", slug=f"bench-hb-{run}")
    return [services.create_alert_source(tenant, name=f"hb {i}", integration_type="heartbeat",
                                         heartbeat_interval_seconds=3600).integration_key for i in range(count)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--rounds", type=int, default=2, help="each pair measured this many times, alternating")
    args = parser.parse_args()

    url, name = bench_database_url()
    ensure_database(url, name)
    setup_django(url)
    keys = make_heartbeats(100)
    port = free_port()
    server = start_gunicorn(url, port, args.workers, args.threads)
    try:
        print(f"bench/heartbeat: gunicorn {args.workers} workers x {args.threads} threads on 127.0.0.1:{port}, "
              f"PostgreSQL database {name}, {os.cpu_count()} CPUs, {args.connections} connections, "
              f"{args.seconds} s per run, 100 heartbeat sources")
        asyncio.run(_load(port, [f"/api/heartbeats/{k}" for k in keys], 3, args.connections))  # warm-up
        for round_ in range(1, args.rounds + 1):
            product = asyncio.run(_load(port, [f"/api/heartbeats/{k}" for k in keys], args.seconds,
                                        args.connections))
            plain = asyncio.run(_load(port, [f"/bench/ping/{k}" for k in keys], args.seconds, args.connections))
            for label, figures in (("heartbeat (GET /api/heartbeats/<key>)", product),
                                   ("plain Django view, same UPDATE     ", plain)):
                print(f"  round {round_} {label}: {figures['per_s']:7.0f} pings/s   p50 {figures['p50_ms']:6.1f} ms"
                      f"   p99 {figures['p99_ms']:6.1f} ms   ({figures['requests']} requests, "
                      f"{figures['refused']} not 202)")
            print(f"  round {round_} ratio heartbeat / plain view: {product['per_s'] / plain['per_s']:.2f}")
        return 0
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
