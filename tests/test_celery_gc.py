"""Workers freeze what they load at start out of the garbage collector's scans and collect young
objects less often (ilert/celery.py: 22% of an escalation storm's CPU went to collections)."""

import gc

import pytest
from celery.signals import worker_process_init, worker_ready

from ilert.celery import GC_THRESHOLDS


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
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 10_000  # Django and the apps are loaded here, as in a worker
