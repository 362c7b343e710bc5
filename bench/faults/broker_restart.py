"""bench/faults/broker_restart: the broker (Redis) restarts while incidents fall due one after another,
with the processes of docker-compose.yml (web server, worker, uptime worker) on PostgreSQL. Prints
step lateness before, during and after each outage and which processes died (must be none); after
the broker returns, lateness must stay under SWEEP_INTERVAL_SECONDS.

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert_x .venv/bin/python -m bench.faults.broker_restart \\
        [--incidents 120] [--every 0.5] [--outage 10] [--restarts 2] [--as-before]

Redis is a private redis-server on a free port (never the shared one), without persistence: it comes
back empty, like a broker that lost everything queued. Incident n falls due at T + n * every; the
outages start at T + 10 s, one every (outage + 15) s. Kicks from this process are off: the stack
finds the due rows itself (its workers' tickers), as after any lost message. --as-before runs the
workers as docker-compose.yml ran them before (prefork pool, gossip and mingle on), the
configuration in which kombu's Redis transport crashed the worker (ilert/kombu_patches.py).
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta

from bench.faults import staggered
from tests.e2e.redis_server import RedisServer, free_port


def main():
    args = parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL (PostgreSQL).")
    staggered.setup()
    from ilert import clock

    log_dir = tempfile.mkdtemp(prefix="ilert-broker-restart-")
    redis = RedisServer().start()
    processes = stack(args, staggered.stack_env(REDIS_URL=redis.url), log_dir)
    try:
        ids = staggered.make_incidents(args.incidents)
        for process in processes:
            process.start()
        deadline = time.monotonic() + 120
        while "ready." not in processes[1].output() and time.monotonic() < deadline:
            time.sleep(0.5)
        first = clock.now() + timedelta(seconds=5)
        due = staggered.make_due(ids, first, args.every)
        outages = restart_broker(args, redis, start=first + timedelta(seconds=10))
        last_due = max(due.values())
        staggered.wait_all_performed(due, timeout=(last_due - clock.now()).total_seconds() + 60)
        print_figures(args, due, first, outages, processes, log_dir)
    finally:
        for process in processes:
            if process.process is not None:
                process.stop()
        redis.stop()
        staggered.teardown()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=120)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between two incidents' due times")
    parser.add_argument("--outage", type=float, default=10, help="seconds Redis stays down")
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--as-before", action="store_true", help="prefork pool, gossip and mingle on")
    return parser.parse_args()


def stack(args, env, log_dir):
    """The processes of docker-compose.yml (not started): web server, worker, uptime worker."""
    worker_args = staggered.WORKER
    if args.as_before:
        worker_args = ["worker", "--queues=celery", "--concurrency=4"]
    web_port = free_port()
    return [
        staggered.Process("web", [sys.executable, "-m", "gunicorn", "ilert.wsgi", f"--bind=127.0.0.1:{web_port}",
                                  "--workers=2", "--threads=4", "--log-level=warning"], env, log_dir),
        staggered.celery("worker", worker_args, env, log_dir),
        staggered.celery("uptime-worker", staggered.UPTIME_WORKER, env, log_dir),
    ]


def restart_broker(args, redis, start):
    """Stop Redis for `args.outage` seconds, `args.restarts` times from `start`, one every
    (outage + 15) s. Returns [(down, back)]."""
    from ilert import clock

    outages = []
    for n in range(args.restarts):
        down_at = start + timedelta(seconds=n * (args.outage + 15))
        time.sleep(max(0.0, (down_at - clock.now()).total_seconds()))
        redis.stop()
        down = clock.now()
        time.sleep(args.outage)
        redis.start()
        outages.append((down, clock.now()))
        print(f"outage {n + 1}: Redis down {down:%H:%M:%S.%f}"[:-3] + f", back {clock.now():%H:%M:%S.%f}"[:-3],
              flush=True)
    return outages


def print_figures(args, due, first, outages, processes, log_dir):
    last_due = max(due.values())
    how = "as before (prefork, gossip)" if args.as_before else "as docker-compose.yml"
    print(f"\n{args.incidents} incidents due one every {args.every:g} s, {args.restarts} broker restarts of "
          f"{args.outage:g} s, workers {how}")
    phases = [("before the first outage", first - timedelta(days=1), outages[0][0])]
    for n, (down, back) in enumerate(outages):
        following = outages[n + 1][0] if n + 1 < len(outages) else last_due + timedelta(days=1)
        phases += [(f"due while the broker was down ({n + 1})", down, back),
                   (f"due after the broker returned ({n + 1})", back, following)]
    staggered.report(due, phases, processes)
    reconnects = processes[1].output().count("Connected to redis://") - 1
    print(f"  worker consumer reconnects: {reconnects} (kicked tasks resume then; due work never waited for it)")
    print(f"  logs: {log_dir}")


if __name__ == "__main__":
    main()
