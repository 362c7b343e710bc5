"""bench/heartbeat — how fast heartbeat pings are taken, against healthchecks' own ping endpoint and
a plain Django view doing the same UPDATE, in the same run. Prints figures; not a test.

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert .venv/bin/python -m bench.heartbeat \\
        [--healthchecks /tmp/hc [--healthchecks-python /tmp/hc-venv/bin/python]]

Three endpoints (ours and the plain view in our gunicorn, healthchecks in its own of the same shape,
workers × threads, on 127.0.0.1), each measured in turn in every round (so all see the same load):

- ours: GET /api/heartbeats/<key> over 100 heartbeat sources;
- healthchecks (with --healthchecks): GET /ping/<uuid> over 100 checks, in its own database
  (--healthchecks-db, default hc_bench, created and migrated if missing);
- a plain Django view: /bench/ping/<key> (bench.ingest.urls), the UPDATE of ours through the ORM
  and the whole middleware, without the rate limit and the checks.

Then the medians and the median ratio ours / each (docs/scaling.md has figures).

Load: `wrk` (apt-get install wrk), one thread, keep-alive connections, the paths in round robin;
without wrk, a Python asyncio raw HTTP/1.1 client (which needs a good part of a core itself).

healthchecks is never part of this repository: fetch a checkout and give it its own virtualenv
(it needs Python ≥ 3.12 for Django 6.1; pycurl installs from its wheel):

    git clone https://github.com/healthchecks/healthchecks /tmp/hc   # or a snapshot's git archive
    python3.12 -m venv /tmp/hc-venv
    /tmp/hc-venv/bin/pip install -r /tmp/hc/requirements.txt gunicorn

The bench sets its env (DB=postgres, DB_HOST/PORT/USER/PASSWORD from DATABASE_URL, DB_NAME,
DB_CONN_MAX_AGE=60 like ours, DEBUG=False, ALLOWED_HOSTS), migrates it, makes the checks through
its ORM (`manage.py shell -c`) and runs `gunicorn hc.wsgi` from that venv.
"""

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench.ingest.__main__ import _ms, bench_database_url, ensure_database, free_port, setup_django, start_gunicorn

WRK_SCRIPT = """
local paths = {PATHS}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
"""


def run_wrk(port, paths, seconds, connections):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.replace("PATHS", ", ".join(f'"{p}"' for p in paths)))
    try:
        done = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}/",
            ],
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(script.name)
    out = done.stdout
    if done.returncode:
        sys.exit(f"wrk failed ({done.returncode}):\n{out}\n{done.stderr}")
    try:
        return _parse_wrk(out)
    except (AttributeError, ValueError):
        sys.exit(f"could not read wrk's output:\n{out}")


def _parse_wrk(out):
    total = int(re.search(r"(\d+) requests in", out).group(1))
    duration = re.search(r"requests in ([\d.]+)(ms|s|m)", out)
    elapsed = float(duration.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[duration.group(2)]
    failed = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "per_s": (total - failed) / elapsed,
        "requests": total,
        "refused": failed + (1 if errors else 0),
        "p50_ms": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),
        "p99_ms": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),
    }


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


async def _python_load(port, paths, seconds, connections):
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
            refused += status >= 300
        connection.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "per_s": (len(latencies) - refused) / elapsed,
        "requests": len(latencies),
        "refused": refused,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
    }


def load(port, paths, seconds, connections):
    if shutil.which("wrk"):
        return run_wrk(port, paths, seconds, connections)
    return asyncio.run(_python_load(port, paths, seconds, connections))


def make_heartbeats(count):
    import uuid

    from accounts.models import Tenant
    from alerts import services

    run = uuid.uuid4().hex[:8]
    tenant = Tenant.objects.create(name=f"Bench heartbeat {run}", slug=f"bench-hb-{run}")
    return [
        services.create_alert_source(
            tenant, name=f"hb {i}", integration_type="heartbeat", heartbeat_interval_seconds=3600
        ).integration_key
        for i in range(count)
    ]


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="duration of each run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--rounds", type=int, default=4, help="each endpoint measured this many times, in turn")
    parser.add_argument("--healthchecks", metavar="CHECKOUT", help="a healthchecks checkout to run side by side")
    parser.add_argument(
        "--healthchecks-python",
        metavar="PYTHON",
        help="its venv's python (default: hc-venv/bin/python next to the checkout)",
    )
    parser.add_argument("--healthchecks-db", default="hc_bench", help="its PostgreSQL database")
    return parser


def _print(round_, label, figures):
    print(
        f"  round {round_} {label:<40}: {figures['per_s']:7.0f} pings/s   p50 {figures['p50_ms']:6.1f} ms"
        f"   p99 {figures['p99_ms']:6.1f} ms   ({figures['requests']} requests, {figures['refused']} not 2xx)"
    )


def _measure(targets, args):
    """Each endpoint in turn, `rounds` times (so a neighbour's burst of load hits one slice, not one
    endpoint); then the medians, and the median of the rounds' ratios ours / the others."""
    for port, paths, _ in targets:
        load(port, paths, 3, args.connections)  # warm-up
    rounds = []
    for round_ in range(1, args.rounds + 1):
        figures = {label: load(port, paths, args.seconds, args.connections) for port, paths, label in targets}
        for label, result in figures.items():
            _print(round_, label, result)
        print(f"  round {round_} load average {os.getloadavg()[0]:.2f}")
        rounds.append(figures)
    ours = targets[0][2]
    for _, _, label in targets:
        median = {field: statistics.median(r[label][field] for r in rounds) for field in ("per_s", "p50_ms", "p99_ms")}
        line = (
            f"  median {label:<40}: {median['per_s']:7.0f} pings/s   p50 {median['p50_ms']:6.1f} ms"
            f"   p99 {median['p99_ms']:6.1f} ms"
        )
        if label != ours:
            ratio = statistics.median(r[ours]["per_s"] / r[label]["per_s"] for r in rounds)
            line += f"   ours / this: {ratio:.2f}"
        print(line)


def main():
    args = _parser().parse_args()
    url, name = bench_database_url()
    ensure_database(url, name)
    healthchecks = None
    if args.healthchecks:
        from bench.healthchecks import Healthchecks

        ensure_database(url, args.healthchecks_db)
        healthchecks = Healthchecks(args.healthchecks, args.healthchecks_python, url, args.healthchecks_db)
        hc_paths = healthchecks.prepare(100)
    setup_django(url)
    keys = make_heartbeats(100)
    port = free_port()
    server = start_gunicorn(url, port, args.workers, args.threads)
    try:
        targets = [(port, [f"/api/heartbeats/{k}" for k in keys], "ours: GET /api/heartbeats/<key>")]
        if healthchecks:
            hc_port = free_port()
            healthchecks.start(hc_port, args.workers, args.threads)
            targets.append((hc_port, hc_paths, "healthchecks: GET /ping/<uuid>"))
        targets.append((port, [f"/bench/ping/{k}" for k in keys], "plain view: same UPDATE"))
        print(
            f"bench/heartbeat: gunicorn {args.workers} workers x {args.threads} threads on 127.0.0.1 each, "
            f"PostgreSQL database {name}{f' (healthchecks: {args.healthchecks_db})' if healthchecks else ''}, "
            f"{os.cpu_count()} CPUs, {args.connections} connections, {args.seconds} s per run, "
            f"{'wrk' if shutil.which('wrk') else 'python asyncio'} load, 100 keys round robin"
        )
        _measure(targets, args)
        return 0
    finally:
        if healthchecks:
            healthchecks.stop()
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
