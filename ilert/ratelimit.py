"""Rate limits on the `limits` library: Redis-backed when REDIS_URL is set, in-memory otherwise."""

import math
import threading
import time
from functools import lru_cache

import redis  # noqa: F401 - imported completely before `limits` reads its version (see _limiter)
from django.conf import settings
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

_creating = threading.Lock()


@lru_cache(maxsize=1)
def _make_limiter():
    return MovingWindowRateLimiter(storage_from_string(settings.RATELIMIT_STORAGE_URL))


def _limiter():
    # Created under a lock: `limits` imports the redis client lazily and reads its __version__; two
    # threads doing that at once (the first requests of a threaded worker) see a half-imported module
    # ("minimum version of 3.0 for 'redis' could not be found. Found version: 0.0.0") and answer 500.
    with _creating:
        return _make_limiter()


def reset():
    """Forget every counter (tests)."""
    _limiter().storage.reset()
    _make_limiter.cache_clear()


def retry_after(limit, *keys):
    """Seconds until one more hit of `limit` for `keys` is allowed; 0 when it is allowed now."""
    item = parse(limit)
    if _limiter().test(item, *keys):
        return 0
    reset_at, _remaining = _limiter().get_window_stats(item, *keys)
    return max(1, math.ceil(reset_at - time.time()))


def hit(limit, *keys):
    """Count one hit; answers the seconds to wait (0 when the hit was within the limit)."""
    item = parse(limit)
    if _limiter().hit(item, *keys):
        return 0
    reset_at, _remaining = _limiter().get_window_stats(item, *keys)
    return max(1, math.ceil(reset_at - time.time()))
