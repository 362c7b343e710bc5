"""The sender threads of one process: provider calls run here, side by side, so a recipient whose
provider hangs holds one thread for its timeout and nobody else's page waits behind it.

The pool is bounded (NOTIFICATION_SEND_CONCURRENCY threads). A dispatch claims no more rows than
there are free threads, so a claimed row starts its provider call at once; what the pool cannot
take now stays `pending` for a worker process with free threads (its next sweep, within a sweep
interval). Two dispatches at the same instant may together claim a little more than is free:
those wait briefly for a thread, and one that waited past its deadline is not sent but taken back
by the sweeper (engine._start_send).

Each thread keeps a database connection of its own from one message to the next and closes it
after a while with nothing to send (ilert/threads.py; settings.DB_KEEP_THREAD_CONNECTIONS caps how
many do).

The threads start on first use, and a forked child (a prefork worker) starts afresh.
"""

import logging
import os
import threading
from concurrent.futures import wait as wait_for_futures

from django.conf import settings

from ilert.threads import Threads

log = logging.getLogger(__name__)


class Pool:
    def __init__(self):
        self._forget()

    def _forget(self):
        """A fresh start; also in a forked child, which has none of its parent's threads."""
        self._lock = threading.Lock()
        self._threads = None
        self._size = 0
        self._busy = 0  # jobs submitted and not finished

    @property
    def size(self):
        return max(1, settings.NOTIFICATION_SEND_CONCURRENCY)

    def free(self):
        """How many more jobs would start at once."""
        with self._lock:
            return max(0, self.size - self._busy)

    def submit(self, fn, *args):
        """Run fn(*args) on a sender thread. Returns its future."""
        with self._lock:
            if self._threads is None or self._size != self.size:
                if self._threads is not None:  # the setting changed: running jobs finish on the old threads
                    self._threads.stop(timeout=0)
                self._size = self.size
                self._threads = Threads(self._size, "ilert-send", keep=settings.DB_KEEP_THREAD_CONNECTIONS or None)
            self._busy += 1
            threads = self._threads
        try:
            return threads.submit(self._run, fn, args)
        except BaseException:
            with self._lock:
                self._busy -= 1
            raise

    def _run(self, fn, args):
        try:
            return fn(*args)
        except Exception:  # the engine records outcomes itself; this is a last resort
            log.exception("notification sender job failed")
        finally:
            with self._lock:
                self._busy -= 1

    @staticmethod
    def wait(futures):
        wait_for_futures(futures)


pool = Pool()
os.register_at_fork(after_in_child=pool._forget)
