"""Kicked tasks with no broker (the embedded default, settings.TASK_RUNNER == "local"): the process
that kicks a task runs it itself, in a few threads of its own, at its ETA if it has one.

A kick is only an early wake-up (ilert/kick.py): one lost with its process, or dropped because too
many are waiting, costs latency, never correctness, because the ticker's sweepers find the work
anyway. So there is nothing to store, nothing a half-written file can break, and nothing to crash.
"""

import heapq
import itertools
import logging
import threading
from datetime import timedelta

from ilert import clock, metrics
from ilert.threads import Threads

log = logging.getLogger(__name__)

THREADS = 4
MAX_WAITING = 1000  # beyond this a kick is dropped: the sweepers are already behind and will catch up


class LocalRunner:
    def __init__(self, threads=THREADS, max_waiting=MAX_WAITING):
        self.threads, self.max_waiting = threads, max_waiting
        self._lock = threading.Condition()
        self._pool = None
        self._waiting = 0
        self._later = []  # heap of (eta, seq, task, args, kwargs)
        self._seq = itertools.count()
        self._timer = None

    def submit(self, task, args=(), kwargs=None, options=None):
        options = options or {}
        eta = options.get("eta")
        if eta is None and options.get("countdown"):
            eta = clock.now() + timedelta(seconds=float(options["countdown"]))
        with self._lock:
            if self._waiting >= self.max_waiting:
                log.warning("dropped a kick of %s: %s are waiting (the sweepers will handle it)",
                            task.name, self._waiting)
                return False
            self._waiting += 1
            metrics.LOCAL_KICKS_WAITING.set(self._waiting)
            if eta is not None and eta > clock.now():
                heapq.heappush(self._later, (eta, next(self._seq), task, args, kwargs or {}))
                self._ensure_timer()
                self._lock.notify()
                return True
            pool = self._ensure_pool()
        pool.submit(self._run, task, args, kwargs or {})
        return True

    def _ensure_pool(self):
        if self._pool is None:
            self._pool = Threads(self.threads, "kick")
        return self._pool

    def _ensure_timer(self):
        if self._timer is None:
            self._timer = threading.Thread(target=self._release_due, name="kick timer", daemon=True)
            self._timer.start()

    def _release_due(self):
        """Hand each kick with an ETA to the threads when its time comes."""
        while True:
            with self._lock:
                while not self._later or self._later[0][0] > clock.now():
                    wait = (self._later[0][0] - clock.now()).total_seconds() if self._later else None
                    self._lock.wait(timeout=wait)
                _, _, task, args, kwargs = heapq.heappop(self._later)
                pool = self._ensure_pool()
            pool.submit(self._run, task, args, kwargs)

    def _run(self, task, args, kwargs):
        with self._lock:
            self._waiting -= 1
            metrics.LOCAL_KICKS_WAITING.set(self._waiting)
        try:
            task(*args, **kwargs)
        except Exception:
            log.exception("kicked task %s failed (the sweepers will retry its work)", task.name)


runner = LocalRunner()
