"""A fix for kombu's Redis transport (5.7.0, the pinned version): a Redis restart must not kill a worker.

What happens without it, when the connection drops while the worker waits for its next message
(a BRPOP in flight) and holds an unacknowledged one (acks_late: a task running):

1. Celery's consumer calls `Connection.collect()`, which closes the default channel.
   `redis.Channel.close()` first reads the reply of the BRPOP in flight; it ignores `Empty` only,
   so the connection error aborts the close half-way: the channel stays open, its unacknowledged
   message still held.
2. `collect()` then detaches the transport from the connection (`transport.client = None`).
3. Celery calls `connection.close()`: the half-closed channel is closed again; this time it gets
   through to restoring the unacknowledged message, which needs the connection's host and port
   (`_connparams`: `self.connection.client.hostname`) -> `AttributeError: 'NoneType' object has no
   attribute 'hostname'`. That is not a connection error, so nothing ignores it: "Unrecoverable
   error", the worker exits 1.

The fix is at step 1: a connection error while reading the reply of the BRPOP in flight means the
reply is gone with the connection, which is what `Empty` means there; the close goes on, restores
what it can while the transport is still attached (with Redis down, that fails with a connection
error, which every caller ignores; the message stays in Redis's unacked set and Redis redelivers it
after the visibility timeout), and the second close finds the channel closed.
"""

from queue import Empty

from kombu.transport import redis as redis_transport

_original_close = redis_transport.Channel.close


def _close(self):
    if self._in_poll:
        try:
            self._brpop_read()  # clears _in_poll whatever happens, so the original close skips this read
        except Empty:
            pass
        except self.connection_errors:
            pass
    _original_close(self)


def apply():
    if redis_transport.Channel.close is not _close:
        redis_transport.Channel.close = _close
