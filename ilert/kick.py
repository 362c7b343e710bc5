"""Publishing Celery tasks after commit.

A kicked task is only an early wake-up: the row it would act on is already durable and a sweeper
finds it anyway. So a broker that is down makes the system slower, never wrong — and must not make
the request that kicks slow either: a kick gets one attempt of at most REDIS_TIMEOUT_SECONDS to
connect and to publish (no publish retries), and once one fails, kicks are skipped (logged once)
until REDIS_RETRY_SECONDS have passed; then the next kick tries the broker again.

A coalesced kick (`coalesced`) publishes nothing while another kick of the same name is published
and its task has not started yet: that task, started after this commit, finds this transaction's
rows too. Under a storm of new incidents, one message per incident cost the web its publish (a
fifth of a new incident's Python in the web, py-spy under bench/notify) and the worker its receive
and acknowledgement; now one message serves every incident committed before its task starts. The
mark is a key in the broker's Redis (SET NX, with the kicks' short timeouts) that the task deletes
first thing (`started`), and that expires after COALESCE_SECONDS if the message is lost: the
sweepers cover that, as they cover any lost kick. Without a Redis broker every kick publishes.
"""

import logging
import os
import threading
import time
from urllib.parse import urlparse

import redis
from django.conf import settings
from django.db import transaction
from kombu.exceptions import LimitExceeded, OperationalError
from redis.backoff import NoBackoff
from redis.retry import Retry

from ilert.localtasks import runner

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pools = {}  # (app name, process id) -> a pool of broker connections with short timeouts
_mark_clients = {}  # (broker URL, process id) -> a Redis client for the coalescing marks
_down_until = None  # while the broker is unreachable: the monotonic time at which to try it again
COALESCE_SECONDS = 2  # a lost coalesced kick holds off others this long (about one sweep interval)


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


def coalesced(task, name, *args, **kwargs):
    """after_commit, unless a kick named `name` is published and its task has not started: then
    nothing (see above). The task calls `started(name)` before it reads anything."""
    if settings.ILERT_KICK_TASKS:
        transaction.on_commit(lambda: _publish_coalesced(task, name, args, kwargs))


def started(name):
    """A coalesced task has started: the next kick named `name` publishes again."""
    client = _marks()
    if client is None:
        return
    try:
        client.delete(_mark(name))
    except redis.RedisError:  # Redis away: the mark expires by itself
        log.debug("could not clear the kick mark %s", name, exc_info=True)


def _mark(name):
    return f"ilert:kick-pending:{name}"


def _publish_coalesced(task, name, args, kwargs):
    client = _marks()
    if client is not None and (_down_until is None or time.monotonic() >= _down_until):
        try:
            if not client.set(_mark(name), 1, nx=True, ex=COALESCE_SECONDS):
                return  # a kick is waiting to start: it will find this commit's rows
        except redis.RedisError:  # Redis away: the publish below finds out and says so
            log.debug("could not set the kick mark %s", name, exc_info=True)
    if not _publish(task, args, kwargs, None) and client is not None:
        started(name)  # nothing is waiting after all: let the next kick try


def _marks():
    """The Redis client for coalescing marks; None without a Redis broker."""
    url = settings.CELERY_BROKER_URL
    if settings.TASK_RUNNER == "local" or not url.startswith(("redis://", "rediss://")):
        return None
    key = (url, os.getpid())
    client = _mark_clients.get(key)
    if client is None:
        with _lock:
            timeout = settings.REDIS_TIMEOUT_SECONDS
            client = _mark_clients.setdefault(key, redis.Redis.from_url(
                url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)))
    return client


def _publish(task, args, kwargs, options):
    """Returns whether the kick was handed over (to the broker, or to this process's threads)."""
    if settings.TASK_RUNNER == "local":  # the embedded default: no broker, this process runs it
        return runner.submit(task, args, kwargs, options)
    global _down_until
    down_until = _down_until
    if down_until is not None and time.monotonic() < down_until:
        return False  # the broker was unreachable a moment ago: the sweeper will pick the row up
    try:
        with _pool(task.app).acquire(block=True, timeout=settings.REDIS_TIMEOUT_SECONDS) as connection:
            task.apply_async(args=args, kwargs=kwargs, connection=connection, retry=False, **(options or {}))
    except LimitExceeded:  # every pooled connection is busy publishing: this kick is not needed
        log.info("skipped a kick of %s: all broker connections busy", task.name)
        return False
    except (OperationalError, OSError) as exc:  # broker unreachable (or every connection busy)
        with _lock:
            first, _down_until = _down_until is None, time.monotonic() + settings.REDIS_RETRY_SECONDS
        if first:
            log.warning("could not publish %s (%s: %s); kicks are skipped and the sweepers pick the work up "
                        "until the broker answers again (tried every %s s)", task.name, exc.__class__.__name__, exc,
                        settings.REDIS_RETRY_SECONDS)
        return False
    if down_until is not None:
        with _lock:
            was_down, _down_until = _down_until is not None, None
        if was_down:
            log.warning("the broker answers again: kicks are published again")
    return True


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
        _mark_clients.clear()
        _pools.clear()
