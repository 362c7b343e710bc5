"""Kicked tasks in the embedded default (no broker): the kicking process runs them in threads of its
own, at their ETA; too many waiting are dropped (the sweepers do their work anyway)."""

import threading
from datetime import timedelta

from ilert import clock, kick
from ilert.localtasks import LocalRunner


class FakeTask:
    def __init__(self, name="tests.fake", block=None):
        self.name, self.block = name, block
        self.calls, self.done = [], threading.Event()

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs, threading.current_thread().name))
        if self.block is not None:
            self.block.wait(timeout=60)
        self.done.set()


def test_a_kick_runs_in_a_thread_of_the_kicking_process(settings):
    settings.TASK_RUNNER = "local"
    task = FakeTask()
    kick.now(task, 7, ids=[1, 2])
    assert task.done.wait(timeout=60)
    (args, kwargs, thread), = task.calls
    assert (args, kwargs) == ((7,), {"ids": [1, 2]}) and thread.startswith("kick")


def test_a_kick_with_an_eta_waits_for_it_and_one_due_runs_at_once():
    runner = LocalRunner(threads=1)
    later, now = FakeTask("later"), FakeTask("now")
    assert runner.submit(later, options={"eta": clock.now() + timedelta(hours=1)})
    assert runner.submit(now, options={"eta": clock.now() - timedelta(seconds=1)})
    assert now.done.wait(timeout=60)
    assert later.calls == []
    soon = FakeTask("soon")
    runner.submit(soon, options={"countdown": 0.05})
    assert soon.done.wait(timeout=60)
    assert later.calls == []


def test_kicks_beyond_what_may_wait_are_dropped():
    release = threading.Event()
    runner = LocalRunner(threads=1, max_waiting=1)
    running, waiting, dropped = FakeTask(block=release), FakeTask(), FakeTask()
    assert runner.submit(running)
    assert _until(lambda: running.calls)  # it runs, so it no longer waits
    assert runner.submit(waiting)
    assert runner.submit(dropped) is False
    release.set()
    assert waiting.done.wait(timeout=60)
    assert dropped.calls == []


def _until(predicate, timeout=60):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False
