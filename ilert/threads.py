"""Threads that run jobs handed over by a request or a task (the notification senders, the embedded
task runner), each with database connections of its own that it keeps from one job to the next.

Closing a thread's connection after every job cost a new PostgreSQL connection per message sent:
a server process forked, set up and ended for each SMS (bench/notify: one session per incident,
and CPU that per-process figures miss because those processes are gone by the end). A kept
connection is looked at before and after each job as Django looks at a request's
(`close_old_connections`: CONN_MAX_AGE, CONN_HEALTH_CHECKS, a connection left broken), and a thread
with nothing to do for IDLE_SECONDS closes its connections, so a quiet process holds none. With
`keep`, at most that many threads of a pool keep one between jobs and the others close theirs
after each job (`Keepers`; settings.DB_KEEP_THREAD_CONNECTIONS): for many worker processes on one
database without a pooler, where a burst on every sender thread of every process would otherwise
hold more connections than PostgreSQL has slots (bench/scaleout, four workers, 100 slots).

Threads start on demand, up to `size`; a job waits in the queue while all of them are busy. At
interpreter exit the jobs already handed over finish first (up to EXIT_SECONDS), as with the
standard library's executors: a worker shutting down records the messages it sent.
"""

import atexit
import queue
import threading
import time
from concurrent.futures import Future

from django.db import close_old_connections, connections

IDLE_SECONDS = 10
EXIT_SECONDS = 30
_STOP = object()


class Keepers:
    """Which threads of a pool keep their database connections between jobs: at most `limit`; the
    others close theirs after each job. Call `after_job` in the thread when a job ends, and
    `close` for a thread that is done for now."""

    def __init__(self, limit):
        self.limit = limit
        self._holding = set()
        self._lock = threading.Lock()

    def after_job(self):
        close_old_connections()  # too old, unusable or left broken: closed as after a request
        me = threading.get_ident()
        connected = any(conn.connection is not None for conn in connections.all(initialized_only=True))
        with self._lock:
            if connected and (me in self._holding or len(self._holding) < self.limit):
                self._holding.add(me)
                return
        self.close()

    def close(self):
        connections.close_all()  # this thread's connections only
        with self._lock:
            self._holding.discard(threading.get_ident())


class Threads:
    def __init__(self, size, name, keep=None, idle_seconds=IDLE_SECONDS):
        self.size, self.name, self.idle_seconds = size, name, idle_seconds
        self.keepers = Keepers(size if keep is None else keep)
        self._jobs = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = []
        self._idle = threading.Semaphore(0)  # one release per thread waiting for a job
        self._stopped = False
        atexit.register(self.stop, EXIT_SECONDS)

    def submit(self, fn, *args):
        """Run fn(*args) on one of the threads. Returns its Future."""
        future = Future()
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"{self.name}: threads stopped")
            self._jobs.put((future, fn, args))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self.size:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def stop(self, timeout=None):
        """Let the jobs queued by now finish, then end the threads (each closes its connections).
        Waits up to `timeout` seconds in all (0: does not wait; None: as long as they take)."""
        with self._lock:
            self._stopped = True
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(_STOP)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def _work(self):
        while True:
            try:
                job = self._jobs.get(timeout=self.idle_seconds)
            except queue.Empty:
                self.keepers.close()
                job = self._jobs.get()
            if job is _STOP:
                self.keepers.close()
                return
            future, fn, args = job
            if future.set_running_or_notify_cancel():
                close_old_connections()
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - the caller reads it from the future
                    future.set_exception(exc)
                finally:
                    self.keepers.after_job()
            self._idle.release()

