"""Rate limits on the `limits` library (moving windows): in Redis when REDIS_URL is set, so every
process shares them; in process memory otherwise.

Redis being unreachable must not stop intake or logins (PostgreSQL holds everything that matters):
the limits are then counted in process memory (per process: N web processes let through up to N
times the limit), which is logged once per outage, and Redis is tried again every
REDIS_RETRY_SECONDS; the first call that reaches it again logs that it is back. Every Redis call
has REDIS_TIMEOUT_SECONDS to connect and to answer, without retries, so a Redis that hangs delays at
most one request per retry interval, by at most that timeout.
"""

import functools
import logging
import math
import threading
import time

import redis  # noqa: F401 - imported completely before `limits` reads its version (see _limiter)
from django.conf import settings
from limits import parse as parse_text
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from ilert import metrics

log = logging.getLogger(__name__)

_creating = threading.Lock()

# A limit's text is parsed (regular expressions) for every event otherwise; a few texts are in use.
parse = functools.lru_cache(maxsize=64)(parse_text)


class _Limiter:
    """The shared (Redis) limiter while it answers, the local one while it does not."""

    def __init__(self, url):
        self.local = MovingWindowRateLimiter(storage_from_string("memory://"))
        self.shared = None
        if not url.startswith("memory://"):
            timeout = settings.REDIS_TIMEOUT_SECONDS
            self.shared = MovingWindowRateLimiter(storage_from_string(
                url, wrap_exceptions=True, socket_connect_timeout=timeout, socket_timeout=timeout,
                retry=Retry(NoBackoff(), 0)))
        self._down_until = None  # while Redis is down: the monotonic time at which to try it again
        self._state = threading.Lock()

    def run(self, operation):
        """operation(limiter) on Redis if it may be tried now and answers, else on the local limiter."""
        down_until = self._down_until
        if self.shared is not None and (down_until is None or time.monotonic() >= down_until):
            try:
                result = operation(self.shared)
            except StorageError as exc:
                self._went_down(exc)
            else:
                if down_until is not None:
                    self._came_back()
                return result
        return operation(self.local)

    def _went_down(self, exc):
        with self._state:
            first = self._down_until is None
            self._down_until = time.monotonic() + settings.REDIS_RETRY_SECONDS
        if first:
            cause = getattr(exc, "storage_error", exc)
            log.warning("rate limits: Redis is unreachable (%s: %s); counting in this process's memory until it "
                        "is back (tried again every %s s)", cause.__class__.__name__, cause,
                        settings.REDIS_RETRY_SECONDS)

    def _came_back(self):
        with self._state:
            was_down, self._down_until = self._down_until is not None, None
        if was_down:
            log.warning("rate limits: Redis is reachable again; limits are shared again")

    def reset(self):
        self.local.storage.reset()
        if self.shared is not None:
            try:
                self.shared.storage.reset()
            except StorageError:
                pass


_current = None


def _limiter():
    # Created under a lock: `limits` imports the redis client lazily and reads its __version__; two
    # threads doing that at once (the first requests of a threaded worker) see a half-imported module
    # ("minimum version of 3.0 for 'redis' could not be found. Found version: 0.0.0") and answer 500.
    global _current
    with _creating:
        if _current is None:
            _current = _Limiter(settings.RATELIMIT_STORAGE_URL)
        return _current


def reset():
    """Forget every counter, lease and outage, and read the settings afresh (tests)."""
    global _current
    with _leases_lock:
        _leases.clear()
    with _creating:
        if _current is not None:
            _current.reset()
        _current = None


def forget_everything():
    """Forget every counter in the configured storage, also those an earlier process left (tests)."""
    reset()
    _limiter().reset()


def _wait(limiter, item, keys):
    reset_at, _remaining = limiter.get_window_stats(item, *keys)
    return max(1, math.ceil(reset_at - time.time()))


def retry_after(limit, *keys):
    """Seconds until one more hit of `limit` for `keys` is allowed; 0 when it is allowed now."""
    item = parse(limit)
    return metrics.rate_limited(keys, _limiter().run(
        lambda limiter: 0 if limiter.test(item, *keys) else _wait(limiter, item, keys)))


def hit(limit, *keys, cost=1):
    """Count `cost` hits at once, all or none; answers the seconds to wait (0 when they were within
    the limit). A cost above the whole limit never fits: it answers the window's length."""
    item = parse(limit)
    if cost > item.amount:
        return metrics.rate_limited(keys, item.get_expiry())
    return metrics.rate_limited(keys, _limiter().run(
        lambda limiter: 0 if limiter.hit(item, *keys, cost=cost) else _wait(limiter, item, keys)))


# --- leases: a busy key counted in Redis in blocks -----------------------------------------------
# A storm sends hundreds of events a second for one integration key, and asking Redis for each one
# costs a round trip per event. So a process charges a busy key's events to Redis in blocks (a
# lease) and hands them out from memory: a lease lives LEASE_SECONDS; one used up within its life
# makes the next twice as large, up to 1 % of the limit (LEASE_SHARE); a key that is not busy
# stays at one event per call, exactly as `hit`. A block that does not fit is asked for again as a
# single event, so a key is refused only when Redis refuses that one event; events leased and not
# used by the time their lease ends were counted anyway: with N processes a key may be refused up
# to N x 1 % of its limit early, never let through beyond it.

LEASE_SECONDS = 1.0
LEASE_SHARE = 100
_LEASES_MAX = 10_000


class _Lease:
    __slots__ = ("left", "size", "until")

    def __init__(self, size, until):
        self.left, self.size, self.until = size - 1, size, until


_leases = {}
_leases_lock = threading.Lock()


def hit_leased(limit, *keys):
    """`hit(limit, *keys)` for one event, charged to the shared counter in leases (above)."""
    cap = parse(limit).amount // LEASE_SHARE
    if cap <= 1:
        return hit(limit, *keys)
    now = time.monotonic()
    with _leases_lock:
        lease = _leases.get((limit, keys))
        if lease is not None and now < lease.until and lease.left > 0:
            lease.left -= 1
            return 0
        busy = lease is not None and now < lease.until  # used up within its life
    size = min(cap, lease.size * 2) if busy else 1
    wait = hit(limit, *keys, cost=size)
    if wait and size > 1:
        size, wait = 1, hit(limit, *keys)
    if not wait:
        with _leases_lock:
            if len(_leases) >= _LEASES_MAX:
                _leases.clear()
            _leases[(limit, keys)] = _Lease(size, now + LEASE_SECONDS)
    return wait


def clear(limit, *keys):
    """Forget the hits of `limit` for `keys` (e.g. a login that succeeded clears its failures)."""
    with _leases_lock:
        _leases.pop((limit, keys), None)
    item = parse(limit)
    _limiter().run(lambda limiter: limiter.clear(item, *keys))
