"""Real Celery worker processes for end-to-end tests, on the test's PostgreSQL database and Redis."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def worker_env(**extra):
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        SECRET_KEY=settings.SECRET_KEY,
        SWEEP_INTERVAL_SECONDS="1",
        DB_CONN_MAX_AGE="0",
    )
    env.update(extra)
    return env


class Worker:
    """`celery worker` as a child process (its ticker runs the sweepers); kill() is a crash (SIGKILL),
    stop() a clean exit. `beat` adds an embedded beat, as older deployments ran (it ticks nothing now)."""

    def __init__(self, tmp_path, name="w1", beat=False, concurrency=2, pool="threads", gossip=False, **env):
        self.args = [sys.executable, "-m", "celery", "-A", "ilert", "worker", f"--hostname={name}@%h",
                     f"--queues={settings.WORKER_QUEUES}",
                     f"--concurrency={concurrency}", f"--pool={pool}", "--loglevel=INFO"]
        if not gossip:
            self.args += ["--without-mingle", "--without-gossip"]
        if beat:
            self.args += ["--beat", f"--schedule={tmp_path / (name + '-beat')}"]
        self.env = worker_env(**env)
        self.log_path = tmp_path / f"{name}.log"
        self.process = None

    def start(self):
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        return self

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.log.close()

    def output(self):
        return self.log_path.read_text()


# How long a test waits for a real process to do something (docs/testing.md). Only a hung or broken
# process reaches it, never a slow machine: tests assert what happened and in which order, not how
# fast, so this ceiling can be generous.
PATIENCE = 120


def wait_for(predicate, timeout=PATIENCE, interval=0.2, message="condition"):
    """Poll until `predicate` holds; its value. `timeout` is a ceiling for a hung process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def wait_for_a_whole_sweep(name, after, message=None):
    """Wait until a run of the periodic task `name` that started after `after` has finished, in
    whichever worker ticks it: instead of sleeping "long enough for a sweep", watch the ticker's row
    (ilert.models.Tick). A ticker takes the next tick of a task only once its previous run has
    returned (one thread per task), so a second tick taken by the same ticker means the first one,
    taken after `after`, is over."""
    from ilert.models import Tick

    message = message or f"a whole run of {name} after {after:%H:%M:%S.%f}"
    first = wait_for(lambda: Tick.objects.filter(name=name, taken_at__gt=after).values_list(
        "taken_by", "taken_at").first(), message=message)
    wait_for(lambda: Tick.objects.filter(name=name, taken_by=first[0], taken_at__gt=first[1]).exists(),
             message=message)


def purge_broker():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("*"):
        if key.startswith((b"celery", b"uptime", b"_kombu", b"unacked")):
            client.delete(key)
