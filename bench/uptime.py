"""Benchmark: 2,000 HTTP monitors with a 30-second interval against a local server, checked by real
Celery worker(s) on Redis + PostgreSQL (the production arrangement: the worker's ticker ticks the
uptime sweeper, a worker process runs the engine loop; the old beat process is still started and
ticks nothing).

Prints checks/s, how late checks start behind their `next_check_at` (p50/p99/max, share within 2 s),
and the CPU used by the worker (and, for reference, by the target server and beat).

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert_uptime REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python bench/uptime.py [--monitors 2000] [--interval 30] [--seconds 90] [--concurrency 2]

It migrates that database, creates a tenant "uptime-bench" (removed at the end, with its monitors
and results), and needs nothing else. The monitors' first due times are spread over one interval
(a running system's steady state); --herd makes them all due at once instead.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TICKS = os.sysconf("SC_CLK_TCK")


def serve(port):
    """The target: a threaded HTTP server answering 200 "OK" (run in its own process)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802
            body = b"OK - bench target"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def cpu_seconds(pid, with_children=True):
    """utime + stime of `pid` (and its direct children), in seconds."""
    pids = [pid]
    if with_children:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    pids.append(int(entry.name))
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


def main():
    args = parse_args()
    if args.serve:
        return serve(args.serve)

    if not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the benchmark runs real Celery workers on them.")
    data_dir = tempfile.mkdtemp(prefix="ilert-bench-")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ilert.settings", "SECRET_KEY": "bench", "ILERT_DATA_DIR": data_dir,
           "ALLOW_PRIVATE_TARGETS": "true", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Tenant

    call_command("migrate", verbosity=0)
    Tenant.objects.filter(slug="uptime-bench").delete()
    tenant = Tenant.objects.create(name="Uptime bench", slug="uptime-bench")

    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    processes = []

    def start(cmd):
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
        processes.append(process)
        return process

    try:
        target = start([sys.executable, __file__, "--serve", str(port)])
        time.sleep(0.5)
        make_monitors(args, tenant, port)
        worker, beat, how = start_checkers(args, start, port, data_dir)
        print(f"{args.monitors} HTTP monitors every {args.interval} s against 127.0.0.1:{port}; {how}; "
              f"warm-up {args.warmup:g} s, measuring {args.seconds:g} s …", flush=True)
        time.sleep(args.warmup)
        window = measure(args, {"worker": worker, "beat": beat, "target": target})
        print_figures(args, tenant, window)
    finally:
        stop(processes)
        connection.close()
        Tenant.objects.filter(slug="uptime-bench").delete()


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--monitors", type=int, default=2000)
    parser.add_argument("--interval", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=90, help="measured window (after a warm-up)")
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--herd", action="store_true", help="all monitors due at once at the start")
    parser.add_argument("--mode", choices=["celery", "loop"], default="celery",
                        help="celery: worker + beat (default); loop: `manage.py uptime_engine` processes")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def make_monitors(args, tenant, port):
    """The HTTP monitors against the target, first due spread over one interval (or all at once
    with --herd), starting 3 s from now."""
    from django.db import connection

    from alerts import services as alert_services
    from ilert import clock
    from uptime.models import UptimeMonitor

    source = alert_services.create_alert_source(tenant, name="Uptime bench", integration_type="uptime")
    now = clock.now()
    spread = 0 if args.herd else args.interval
    start_at = now + timedelta(seconds=3)
    UptimeMonitor.objects.bulk_create([
        UptimeMonitor(
            tenant=tenant, alert_source=source, name=f"bench {i}", check_type="http",
            target=f"http://127.0.0.1:{port}/{i}", interval_seconds=args.interval, timeout_seconds=10, retries=2,
            next_check_at=start_at + timedelta(seconds=spread * i / args.monitors),
            rolled_until=now.replace(minute=0, second=0, microsecond=0),
            daily_rolled_until=now.replace(hour=0, minute=0, second=0, microsecond=0),
        )
        for i in range(args.monitors)
    ], batch_size=500)
    connection.close()


def start_checkers(args, start, port, data_dir):
    """Start what checks (--mode): returns (worker, beat, how it is described)."""
    if args.mode == "celery":
        celery = [sys.executable, "-m", "celery", "-A", "ilert"]
        worker = start([*celery, "worker", "--queues=celery,uptime", "--concurrency", str(args.concurrency),
                        "--loglevel", "WARNING",
                        "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bench{port}@%h"])
        beat = start([*celery, "beat", "--loglevel", "WARNING", "--schedule", f"{data_dir}/beat-schedule"])
        how = f"Celery worker (prefork, {args.concurrency} processes) + beat on Redis, PostgreSQL"
    else:
        worker = start([sys.executable, "manage.py", "uptime_engine"])
        beat = start([sys.executable, "-c", "import time; time.sleep(10**6)"])  # nothing: no beat needed
        how = "one `manage.py uptime_engine` process on PostgreSQL"
    return worker, beat, how


def measure(args, watched):
    """The measured window: --seconds of the processes `watched` ({name: process}) at work.
    Returns {start, end, wall, cpu: {name: CPU seconds used}}."""
    from ilert import clock

    window_start = clock.now()
    cpu0 = {name: cpu_seconds(p.pid) for name, p in watched.items()}
    wall0 = time.monotonic()
    time.sleep(args.seconds)
    wall = time.monotonic() - wall0
    cpu1 = {name: cpu_seconds(p.pid) for name, p in watched.items()}
    window_end = clock.now()
    return {"start": window_start, "end": window_end, "wall": wall,
            "cpu": {name: cpu1[name] - cpu0[name] for name in watched}}


def print_figures(args, tenant, window):
    from ilert import clock
    from uptime.models import CheckResult, UptimeMonitor

    wall = window["wall"]
    in_window = CheckResult.objects.filter(tenant=tenant, checked_at__gte=window["start"], checked_at__lt=window["end"])
    rows = list(in_window.values_list("lateness_ms", "outcome", "response_ms"))
    lateness = [max(0, r[0]) for r in rows if r[0] is not None]
    down = sum(1 for r in rows if r[1] != "up")
    expected = args.monitors * wall / args.interval
    overdue = UptimeMonitor.objects.filter(tenant=tenant, next_check_at__lt=clock.now() - timedelta(seconds=2))
    print()
    print(f"checks recorded        {len(rows)} in {wall:.1f} s = {len(rows) / wall:.1f} checks/s "
          f"(schedule asks {expected / wall:.1f}/s; ratio {len(rows) / expected:.3f})")
    print(f"failed checks          {down}")
    per_monitor = {}
    for monitor_id in in_window.values_list("monitor_id", flat=True):
        per_monitor[monitor_id] = per_monitor.get(monitor_id, 0) + 1
    counts = sorted(per_monitor.values())
    print(f"checks per monitor     min {counts[0] if counts else 0} · max {counts[-1] if counts else 0} "
          f"({len(counts)} monitors checked)")
    if lateness:
        within = sum(1 for v in lateness if v <= 2000) / len(lateness)
        print(f"lateness behind due    p50 {percentile(lateness, 50)} ms · p99 {percentile(lateness, 99)} ms · "
              f"max {max(lateness)} ms · within 2 s: {within:.2%}")
        responses = [r[2] for r in rows if r[2] is not None]
        print(f"response time          p50 {percentile(responses, 50)} ms · "
              f"mean {statistics.mean(responses):.1f} ms")
    print(f"monitors overdue > 2 s {overdue.count()} at the end")
    for name in ("worker", "beat", "target"):
        used = window["cpu"][name]
        print(f"CPU {name:<18} {used:.1f} s = {100 * used / wall:.0f}% of one core"
              + (f" ({1000 * used / max(1, len(rows)):.2f} ms per check)" if name == "worker" else ""))


def stop(processes):
    """SIGTERM every process group (newest first), SIGKILL what has not ended 15 s later."""
    for process in reversed(processes):
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
