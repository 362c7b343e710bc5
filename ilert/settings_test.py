"""Settings for the test suite: the real settings, with a fixed key and fast hashing.

DATABASE_URL / REDIS_URL from the environment still apply, so CI runs on PostgreSQL and Redis.
"""

import atexit
import os
import shutil
import tempfile
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
# Under pytest-xdist (`./scripts/test -n 2`, as CI runs) each worker has its own data directory and
# Redis database (pytest-django already gives each its own test database): workers share nothing.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
os.environ.setdefault("ILERT_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test",
                                                     f"gw{_WORKER}" if _WORKER else ""))
if _WORKER and os.environ.get("REDIS_URL"):
    _url = urlsplit(os.environ["REDIS_URL"])
    _db = (int(_url.path.strip("/") or 0) + _WORKER) % 16
    os.environ["REDIS_URL"] = urlunsplit(_url._replace(path=f"/{_db}"))
# Metrics in multiprocess mode as deployed, in a directory of this test session's own (processes the
# tests start inherit it), removed at exit; METRICS_MULTIPROCESS=false runs the suite without it.
# An xdist worker does not share the directory it inherits from the controller (ILERT_TEST_METRICS_FOR
# says whose it is); what a worker starts inherits the worker's.
_METRICS_FOR = os.environ.get("PYTEST_XDIST_WORKER", "main")
if os.environ.get("METRICS_MULTIPROCESS", "true").lower() not in ("0", "false", "no", "off") and (
        "PROMETHEUS_MULTIPROC_DIR" not in os.environ
        or os.environ.get("ILERT_TEST_METRICS_FOR", _METRICS_FOR) != _METRICS_FOR):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ilert-test-metrics-")
    os.environ["ILERT_TEST_METRICS_FOR"] = _METRICS_FOR
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

# Custom-domain TXT lookups never leave the machine: a closed local port unless a test starts its
# fake DNS server (tests/status/test_custom_domains.py).
os.environ.setdefault("STATUS_DNS_RESOLVER", "127.0.0.1:9")
from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Channels without a provider write to the dev outbox (tests that need it off say so).
DEV_OUTBOX = True
# Kicked tasks run in-process right after commit, so a service call plays out like the real system;
# tests of the sweepers turn kicks off to prove that nothing depends on them.
TASK_RUNNER = "celery"  # eager, below: never the embedded runner's threads
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
WHITENOISE_AUTOREFRESH = True
