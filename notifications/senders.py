"""The sender threads of one process: provider calls run here, side by side, so a recipient whose
provider hangs holds one thread for its timeout and nobody else's page waits behind it.

The pool is bounded (NOTIFICATION_SEND_CONCURRENCY threads). The sweep reserves free threads and
claims no more rows than it reserved, so a claimed row starts its provider call at once; what the pool cannot
take now stays `pending` for another worker or the next sweep. (A kicked task submits the few rows
it names even to a busy pool: they queue briefly, and one that waits past its deadline is not sent
but taken back by the sweeper — engine._start_send.) Each job runs
with its own database connection, closed when the job ends (no idle connections left behind, and a
test database can always be dropped).

The threads start on first use, and a forked child (a prefork worker) starts afresh.
"""

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)


class Pool:
    def __init__(self):
        self._forget()

    def _forget(self):
        """A fresh start; also in a forked child, which has none of its parent's threads."""
        self._lock = threading.Lock()
        self._executor = None
        self._size = 0
        self._busy = 0  # jobs submitted and not finished, plus threads reserved for jobs to come

    @property
    def size(self):
        return max(1, settings.NOTIFICATION_SEND_CONCURRENCY)

    def reserve(self, wanted):
        """Take up to `wanted` of the free threads for jobs about to be submitted; returns how many."""
        with self._lock:
            taken = max(0, min(wanted, self.size - self._busy))
            self._busy += taken
            return taken

    def release(self, count):
        """Give back reserved threads that were not used."""
        if count > 0:
            with self._lock:
                self._busy -= count

    def submit(self, fn, *args, reserved=False):
        """Run fn(*args) on a sender thread (in a slot taken by `reserve`, or a new one). Returns its
        future."""
        with self._lock:
            if self._executor is None or self._size != self.size:
                if self._executor is not None:  # the setting changed: running jobs finish on the old threads
                    self._executor.shutdown(wait=False)
                self._size = self.size
                self._executor = ThreadPoolExecutor(max_workers=self._size, thread_name_prefix="ilert-send")
            if not reserved:
                self._busy += 1
            executor = self._executor
        try:
            return executor.submit(self._run, fn, args)
        except BaseException:
            self.release(1)
            raise

    def _run(self, fn, args):
        try:
            return fn(*args)
        except Exception:  # the engine records outcomes itself; this is a last resort
            log.exception("notification sender job failed")
        finally:
            connections.close_all()
            with self._lock:
                self._busy -= 1

    @staticmethod
    def wait(futures):
        wait_for_futures(futures)


pool = Pool()
os.register_at_fork(after_in_child=pool._forget)
