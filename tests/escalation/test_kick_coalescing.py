"""Kicks are coalesced per worker process (escalation/tasks.py): a kick that arrives while a thread
of the process ticks starts no tick of its own; that thread runs one more pass for it."""

import threading
from types import SimpleNamespace

import pytest

from escalation import engine, tasks


class Ticks:
    """engine.tick stand-in that counts calls and how many run at once; the first one waits."""

    def __init__(self, fail_first=False):
        self.calls = self.running = self.most = 0
        self.first_started, self.release = threading.Event(), threading.Event()
        self.fail_first, self.lock = fail_first, threading.Lock()

    def __call__(self):
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
            first = self.calls == 1
        try:
            if first:
                self.first_started.set()
                assert self.release.wait(30)
                if self.fail_first:
                    raise RuntimeError("the database went away")
            return 1
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def ticks(monkeypatch):
    def install(**options):
        fake = Ticks(**options)
        monkeypatch.setattr(engine, "tick", fake)
        return fake

    return install


def _kick():
    return tasks.step.run(1, 0, 0)


def test_kicks_during_a_tick_fold_into_one_more_pass(ticks):
    fake = ticks()
    results = []
    first = threading.Thread(target=lambda: results.append(_kick()))
    first.start()
    assert fake.first_started.wait(30)
    assert [_kick() for _ in range(3)] == [0, 0, 0]  # none starts a tick while one runs
    fake.release.set()
    first.join(30)
    assert results == [2] and fake.calls == 2 and fake.most == 1  # the kicks' pass ran after the first
    assert _kick() == 1 and fake.calls == 3  # nobody ticks now: a kick ticks itself


def test_a_tick_that_fails_lets_the_next_kick_tick(ticks):
    fake = ticks(fail_first=True)
    errors = []

    def first():
        try:
            _kick()
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    assert fake.first_started.wait(30)
    fake.release.set()
    thread.join(30)
    assert len(errors) == 1
    assert _kick() == 1 and fake.calls == 2


def test_a_further_pass_waits_for_kicks_to_gather_and_a_lone_kick_does_not(ticks, monkeypatch, settings):
    settings.ESCALATION_GATHER_SECONDS = 0.1
    fake = ticks()
    waits, steps = [], []  # (seconds, passes run before the wait); what the loop did, in order

    def sleep(seconds):
        assert not tasks._kicks.locked()  # a kick meanwhile must not wait for it  # noqa: SLF001
        waits.append((seconds, fake.calls))
        steps.append("wait")

    monkeypatch.setattr(tasks, "time", SimpleNamespace(sleep=sleep))
    monkeypatch.setattr(tasks.kick, "started", lambda name: steps.append("started"))
    first = threading.Thread(target=_kick)
    first.start()
    assert fake.first_started.wait(30)
    assert waits == []  # the first pass did not wait
    assert _kick() == 0  # folded into the running tick
    fake.release.set()
    first.join(30)
    assert fake.calls == 2 and waits == [(0.1, 1)]  # one wait, between the first pass and the kick's
    assert steps == ["started", "wait", "started"]  # commits during the wait count for the next pass
    assert _kick() == 1 and fake.calls == 3 and waits == [(0.1, 1)]  # a lone kick: at once
