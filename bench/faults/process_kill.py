"""bench/faults/process_kill: SIGKILL the processes that tick while incidents fall due one after
another: first the `celery beat` an older deployment still runs, then the worker that took the last
escalation tick. Two workers as docker-compose.yml runs them (scaled to two), on PostgreSQL and Redis.
Prints step lateness before and after each kill, steps performed twice and processes that died.

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert_x REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python -m bench.faults.process_kill [--incidents 120] [--every 0.5]

Beat is killed at T + 10 s, the ticking worker at T + 25 s (T: the first incident's due time).
Kicks from this process are off: the stack finds the due rows itself.
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta

from bench.faults import staggered


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=120)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between two incidents' due times")
    args = parser.parse_args()
    if not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL.")
    staggered.setup()
    from ilert import clock
    from ilert.models import Tick

    log_dir = tempfile.mkdtemp(prefix="ilert-process-kill-")
    env = staggered.stack_env()
    beat = staggered.celery("beat", ["beat", f"--schedule={log_dir}/beat-schedule"], env, log_dir)
    workers = {name: staggered.celery(name, staggered.WORKER, env, log_dir) for name in ("worker-1", "worker-2")}
    processes = [beat, *workers.values()]
    try:
        ids = staggered.make_incidents(args.incidents)
        for process in processes:
            process.start()
        deadline = time.monotonic() + 120
        while not all("ready." in w.output() for w in workers.values()) and time.monotonic() < deadline:
            time.sleep(0.5)
        first = clock.now() + timedelta(seconds=5)
        due = staggered.make_due(ids, first, args.every)

        time.sleep(max(0.0, (first + timedelta(seconds=10) - clock.now()).total_seconds()))
        beat.kill()
        beat_killed = clock.now()
        time.sleep(max(0.0, (first + timedelta(seconds=25) - clock.now()).total_seconds()))
        ticking = Tick.objects.get(name="escalation.tasks.sweep").taken_by.split("@")[0]
        workers[ticking].kill()
        worker_killed = clock.now()
        print(f"killed beat at {beat_killed:%H:%M:%S}, then {ticking} (it took the last escalation tick) "
              f"at {worker_killed:%H:%M:%S}", flush=True)
        last_due = max(due.values())
        staggered.wait_all_performed(due, timeout=(last_due - clock.now()).total_seconds() + 60)

        print(f"\n{args.incidents} incidents due one every {args.every:g} s; two workers and beat")
        staggered.report(due, [
            ("before any kill", first - timedelta(days=1), beat_killed),
            ("after beat was killed", beat_killed, worker_killed),
            (f"after {ticking} was killed too", worker_killed, last_due + timedelta(days=1)),
        ], processes)
        (left,) = set(workers) - {ticking}
        print(f"  escalation ticks now taken by: {Tick.objects.get(name='escalation.tasks.sweep').taken_by} "
              f"(expected {left})")
        print(f"  logs: {log_dir}")
    finally:
        for process in processes:
            if process.process is not None:
                process.stop()
        staggered.teardown()


if __name__ == "__main__":
    main()
