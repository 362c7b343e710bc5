"""Recording what the providers took, together (a group commit): a sender thread whose provider
took a message queues the outcome and then writes everything queued by then — its own and that of
the threads that finished while another was writing — in one transaction (outcomes.record_sent_many).
At one page now and then each thread writes its own; in a storm one write records many. When `add`
returns, the outcome is written: whoever took it from the queue held the write lock until done.

Crash-safety is that of one send: an outcome not yet written leaves its row `sending` with its call
out (`outcome_unknown`), and the sweeper asks the provider before anything is sent again."""

import logging
import os
import threading

from .outcomes import Done, record_sent, record_sent_many

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self):
        self._forget()

    def _forget(self):
        """A fresh start; also in a forked child, which has none of its parent's threads."""
        self._queue = []
        self._queued = threading.Lock()
        self._writing = threading.Lock()

    def add(self, claim, sent, call, now):
        with self._queued:
            self._queue.append(Done(claim, sent, call, now))
        with self._writing:
            with self._queued:
                items, self._queue = self._queue, []
            if items:
                write(items)


def write(items):
    """Record the outcomes together; if that fails, one by one (each settles or fails alone)."""
    try:
        record_sent_many(items)
    except Exception:
        log.exception("recording %s sent messages together failed; recording them one by one", len(items))
        for item in items:
            try:
                record_sent(item.claim, item.sent, item.call, now=item.now)
            except Exception:  # the row stays `sending` with its call out: the sweeper asks the provider
                log.exception("notification %s: what the provider took could not be recorded", item.claim.leader.pk)


recorder = Recorder()
os.register_at_fork(after_in_child=recorder._forget)
