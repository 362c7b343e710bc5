"""Web and worker processes freeze what they load at start out of the garbage collector's scans and
collect young objects less often (ilert/gc_tuning.py: a full collection stalled a web process's
request threads ~100 ms; 22% of an escalation storm's CPU went to collections)."""

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery.signals import worker_process_init, worker_ready

from ilert.gc_tuning import THRESHOLDS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.parametrize("signal", [worker_ready, worker_process_init], ids=["threads pool", "prefork child"])
def test_a_starting_worker_tunes_the_garbage_collector(signal, restored_gc):
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    signal.send(sender=None)
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 10_000  # Django and the apps are loaded here, as in a worker


def test_a_web_process_freezes_what_it_loaded_with_the_urlconf():
    """What gunicorn imports in each of its processes (ilert.wsgi), in a fresh interpreter."""
    script = ("import gc, ilert.wsgi, django.urls.resolvers as r; "
              "print(gc.get_freeze_count(), *gc.get_threshold(), r.get_resolver().__dict__.get('url_patterns') is not None)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ilert.settings", "SECRET_KEY": "test-only"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    frozen, *thresholds, urlconf_loaded = out[-5:]
    assert int(frozen) > 50_000
    assert tuple(map(int, thresholds)) == THRESHOLDS
    assert urlconf_loaded == "True"
