"""Settings for bench/ingest only: the product's settings, plus a bare DRF endpoint (bench.ingest.
urls) for comparison, a rate limit high enough never to refuse the load, and quiet logs."""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")

from ilert.settings import *  # noqa: E402,F403

ROOT_URLCONF = "bench.ingest.urls"
INGEST_RATE_LIMIT = "100000000/minute"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
LOGGING["loggers"]["django.request"] = {"level": "ERROR"}  # noqa: F405
