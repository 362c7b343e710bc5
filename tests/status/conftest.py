import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rendered pages and the fast path's ETags live in the cache, which outlives a test's rollback
    (and SQLite may hand the next test the same ids)."""
    cache.clear()
    yield
    cache.clear()
