"""The ticker: runs the periodic tasks (settings.TICK_SCHEDULE: the sweepers every
SWEEP_INTERVAL_SECONDS, housekeeping less often), each in a thread of its own.

Every Celery worker runs one for the tasks of the queues it consumes (ilert/celery.py), and the
embedded run has one in `manage.py ticker`. A row per task (ilert.models.Tick) holds when it is next
due; a ticker takes a tick with one conditional UPDATE (`due_at <= now` -> `now + interval`), which
exactly one process wins. So each task still runs once per interval across the whole deployment, as
under Celery beat, but in whichever process is alive: losing any one process (a worker, or the beat
that used to be the only one ticking) stops nothing, and a dead ticker's tasks are taken by another
within one interval. The task runs in the ticker's own thread, not through the broker, so a broker
outage does not stop due work either (kicked tasks are only early wake-ups: ilert/kick.py).
"""

import logging
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils.module_loading import import_string

from ilert import clock, metrics
from ilert.celery import app
from ilert.models import Tick

log = logging.getLogger(__name__)

# A ticker that waits longer than this between runs gives its database connection back meanwhile.
KEEP_CONNECTION_SECONDS = 30


def schedule_for(queues=None):
    """The periodic tasks a worker consuming `queues` runs (every one when None): a task runs where
    its queue is served, e.g. uptime sweeps only in the workers of the uptime queue."""
    schedule = dict(settings.TICK_SCHEDULE)
    if queues is None:
        return schedule
    return {name: seconds for name, seconds in schedule.items()
            if app.amqp.router.route({}, name)["queue"].name in queues}


class Ticker:
    def __init__(self, schedule, identity=None):
        self.intervals = {name: timedelta(seconds=float(seconds)) for name, seconds in schedule.items()}
        self.identity = (identity or f"{socket.gethostname()}:{os.getpid()}")[:200]
        self._stopping = threading.Event()
        self._threads = []

    def take(self, name, now=None):
        """Take the tick of `name` if it is due. Returns (taken, when it is next due); across every
        ticker sharing the database, exactly one takes each tick."""
        now = now or clock.now()
        next_due = now + self.intervals[name]
        if Tick.objects.filter(name=name, due_at__lte=now).update(due_at=next_due, taken_at=now,
                                                                   taken_by=self.identity):
            return True, next_due
        tick, created = Tick.objects.get_or_create(  # a new task: whoever creates its row has its first tick
            name=name, defaults={"due_at": next_due, "taken_at": now, "taken_by": self.identity})
        return created, tick.due_at

    def tick(self, name, now=None):
        """Run `name` here if its tick is due. Returns (ran, when it is next due)."""
        taken, next_due = self.take(name, now)
        if taken:
            run(name)
        return taken, next_due

    def start(self):
        for name in self.intervals:
            thread = threading.Thread(target=self._loop, args=(name,), name=f"ticker {name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("ticker %s: %s periodic tasks", self.identity, len(self.intervals))
        return self

    def stop(self, timeout=15):
        """Ask every thread to stop and wait (a task already running finishes first)."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=timeout)

    def _loop(self, name):
        interval = self.intervals[name].total_seconds()
        while not self._stopping.is_set():
            wait = interval
            close_old_connections()
            try:
                _, next_due = self.tick(name)
                wait = (next_due - clock.now()).total_seconds()
            except DatabaseError as exc:  # the database is away: say so, try again next interval
                log.warning("ticker: %s could not run: %s", name, exc)
            except Exception:  # a task's own failure is logged with its traceback; ticking goes on
                log.exception("ticker: %s failed", name)
            if wait > KEEP_CONNECTION_SECONDS:
                connections.close_all()
            else:
                close_old_connections()
            self._stopping.wait(min(max(wait, 0.01), interval))


def run(name):
    """Run the task `name` in this thread (a Celery task object called directly runs here)."""
    metrics.ticker_run(name, import_string(name))
