"""Publishing Celery tasks after commit.

A kicked task is only an early wake-up: the row it would act on is already durable and a sweeper
finds it anyway. So a broker that is down makes the system slower, never wrong — and must not make
the request that kicks slow either: a kick gets one attempt of at most REDIS_TIMEOUT_SECONDS to
connect and to publish (no publish retries), and once one fails, kicks are skipped (logged once)
until REDIS_RETRY_SECONDS have passed; then the next kick tries the broker again.
"""

import logging
import os
import threading
import time
from urllib.parse import urlparse

from django.conf import settings
from django.db import transaction
from kombu.exceptions import LimitExceeded, OperationalError

from ilert.localtasks import runner

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pools = {}  # (app name, process id) -> a pool of broker connections with short timeouts
_down_until = None  # while the broker is unreachable: the monotonic time at which to try it again


def after_commit(task, *args, options=None, **kwargs):
    """Enqueue `task` once the current transaction commits (at once outside a transaction).
    `options` go to apply_async (e.g. {"eta": due_time} for an early wake-up at a due time)."""
    if settings.ILERT_KICK_TASKS:
        transaction.on_commit(lambda: _publish(task, args, kwargs, options))


def now(task, *args, options=None, **kwargs):
    """Enqueue `task` at once, even inside a transaction: for tasks that need nothing this
    transaction writes (e.g. more sweepers for a backlog that is already committed)."""
    if settings.ILERT_KICK_TASKS:
        _publish(task, args, kwargs, options)


def _publish(task, args, kwargs, options):
    if settings.TASK_RUNNER == "local":  # the embedded default: no broker, this process runs it
        runner.submit(task, args, kwargs, options)
        return
    global _down_until
    down_until = _down_until
    if down_until is not None and time.monotonic() < down_until:
        return  # the broker was unreachable a moment ago: the sweeper will pick the row up
    try:
        with _pool(task.app).acquire(block=True, timeout=settings.REDIS_TIMEOUT_SECONDS) as connection:
            task.apply_async(args=args, kwargs=kwargs, connection=connection, retry=False, **(options or {}))
    except LimitExceeded:  # every pooled connection is busy publishing: this kick is not needed
        log.info("skipped a kick of %s: all broker connections busy", task.name)
        return
    except (OperationalError, OSError) as exc:  # broker unreachable (or every connection busy)
        with _lock:
            first, _down_until = _down_until is None, time.monotonic() + settings.REDIS_RETRY_SECONDS
        if first:
            log.warning("could not publish %s (%s: %s); kicks are skipped and the sweepers pick the work up "
                        "until the broker answers again (tried every %s s)", task.name, exc.__class__.__name__, exc,
                        settings.REDIS_RETRY_SECONDS)
        return
    if down_until is not None:
        with _lock:
            was_down, _down_until = _down_until is not None, None
        if was_down:
            log.warning("the broker answers again: kicks are published again")


def _pool(app):
    """Broker connections for kicks, per process (a forked child must not share its parent's
    sockets): one connect-and-publish attempt with short socket timeouts."""
    key = (app.main, os.getpid())
    pool = _pools.get(key)
    if pool is None:
        with _lock:
            pool = _pools.get(key)
            if pool is None:
                options = {"max_retries": 0}
                if urlparse(app.conf.broker_write_url or app.conf.broker_url or "").scheme.startswith("redis"):
                    timeout = settings.REDIS_TIMEOUT_SECONDS
                    options.update(socket_connect_timeout=timeout, socket_timeout=timeout)
                pool = _pools[key] = app.connection_for_write(transport_options=options).Pool(limit=32)
    return pool


def reset():
    """Forget an outage and the pooled connections (tests)."""
    global _down_until
    with _lock:
        _down_until = None
        for pool in _pools.values():
            pool.force_close_all()
        _pools.clear()
