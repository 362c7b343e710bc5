"""Publishing Celery tasks after commit.

A kicked task is only an early wake-up: the row it would act on is already durable and a sweeper
finds it anyway. So a broker that is down makes the system slower, never wrong — and must not make
the request that kicks slow either: a kick gets one attempt of at most REDIS_TIMEOUT_SECONDS to
connect and to publish (no publish retries), and once one fails, kicks are skipped (logged once)
until REDIS_RETRY_SECONDS have passed; then the next kick tries the broker again.

A coalesced kick (`coalesced`) publishes nothing while an earlier one is out or a pass of its task
is on: a commit counts itself in the broker's Redis (SET NX + INCR, with the kicks' short timeouts)
and only one that finds no count publishes. Each pass of the task starts by setting the count to
one (`started`), before it reads anything; when the pass is over, `finished` clears the count
only if nothing was committed meanwhile, and otherwise the task passes again, so a commit whose
kick stayed home is read by a pass that began after it. Where that cannot be told (a count that
expired during a pass longer than COALESCE_SECONDS, a failed publish or pass) the sweepers read
it, as they read the work of any lost kick. Under a storm of new incidents one message per
incident cost the web its publish (a fifth of a new incident's Python in the web, py-spy under
bench/notify) and the worker its receive and ack. Without a Redis broker every kick publishes.
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
COALESCE_SECONDS = 2  # a lost coalesced kick holds off others this long at most (about one sweep interval)


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
    """after_commit, unless a kick named `name` is out or a pass of its task is on (see above): its
    task runs `started(name)` before each pass and passes again until `finished(name)`."""
    if settings.ILERT_KICK_TASKS:
        transaction.on_commit(lambda: _publish_coalesced(task, name, args, kwargs))


def started(name):
    """A pass begins (call it before reading anything): commits from now on are the next pass's."""
    client = _marks()
    if client is not None:
        try:
            client.set(_mark(name), 1, ex=COALESCE_SECONDS)
        except redis.RedisError:  # Redis away: kicks are not published either; the sweepers cover both
            log.debug("could not mark a pass of %s", name, exc_info=True)


# Clear the count if no commit added to it since the pass began (1: done, 0: pass again). No count
# at all cannot be told apart from one that expired during a long pass, or from a Redis that
# refuses writes (full, a read-only replica): done then, and a commit counted in a count that
# expired waits for the sweeper. Passing again instead looped for ever (found in review).
_FINISH = """local count = redis.call('get', KEYS[1])
if count == false then return 1 end
if count == '1' then redis.call('del', KEYS[1]) return 1 end
return 0"""


def finished(name):
    """The pass is over. True: nothing was committed meanwhile, as far as can be told (the next
    commit publishes a kick); False: something was: pass again."""
    client = _marks()
    if client is None:
        return True
    try:
        return bool(client.eval(_FINISH, 1, _mark(name)))
    except redis.RedisError:  # Redis away: kicks are not published either; the sweepers cover both
        return True


def _mark(name):
    return f"ilert:kick-count:{name}"


def _publish_coalesced(task, name, args, kwargs):
    client = _marks()
    if client is not None:
        if _down_until is not None and time.monotonic() < _down_until:
            return  # the broker was unreachable a moment ago: the sweeper will pick the row up
        try:
            # A new count expires with its kick; adding to one keeps its expiry (a lost message
            # holds off the kicks after it for COALESCE_SECONDS at most, even under a stream of commits).
            _, count = client.pipeline().set(_mark(name), 0, nx=True, ex=COALESCE_SECONDS).incr(_mark(name)).execute()
        except redis.RedisError as exc:  # the broker's Redis is away: no publish either (one timeout, not two)
            _went_down(task, exc)
            return
        if count > 1:
            return  # a kick is out, or a pass is on, that will read this commit
    if not _publish(task, args, kwargs, None) and client is not None:
        try:
            client.delete(_mark(name))  # nothing is out after all: let the next commit publish
        except redis.RedisError:
            log.debug("could not clear the kick count %s", name, exc_info=True)


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
        _went_down(task, exc)
        return False
    if down_until is not None:
        with _lock:
            was_down, _down_until = _down_until is not None, None
        if was_down:
            log.warning("the broker answers again: kicks are published again")
    return True


def _went_down(task, exc):
    """Skip kicks for REDIS_RETRY_SECONDS (said once per outage)."""
    global _down_until
    with _lock:
        first, _down_until = _down_until is None, time.monotonic() + settings.REDIS_RETRY_SECONDS
    if first:
        log.warning("could not publish %s (%s: %s); kicks are skipped and the sweepers pick the work up "
                    "until the broker answers again (tried every %s s)", task.name, exc.__class__.__name__, exc,
                    settings.REDIS_RETRY_SECONDS)


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
