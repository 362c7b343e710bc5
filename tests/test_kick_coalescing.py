"""Coalesced kicks (ilert/kick.py): while one is out and its task has not taken the count, further
kicks of the same name publish nothing; once the task takes it, the next one publishes again, and
the task passes again while commits came in during its pass. A count whose message was lost
expires; one whose publish failed is taken back at once."""

import pytest
import redis
from celery import Celery
from kombu.exceptions import OperationalError

from ilert import kick

pytestmark = [pytest.mark.redis, pytest.mark.django_db]


class Recorded:
    """A task stand-in on the tests' Redis broker that records what is published (or refuses it)."""

    name = "tests.recorded"

    def __init__(self, url, refuse=False):
        self.app = Celery(broker=url, set_as_current=False)
        self.published, self.refuse = [], refuse

    def apply_async(self, args, kwargs, connection, retry, **options):
        if self.refuse:
            raise OperationalError("connection refused")
        self.published.append(args)


@pytest.fixture
def broker(settings):
    settings.TASK_RUNNER, settings.CELERY_BROKER_URL, settings.ILERT_KICK_TASKS = "celery", settings.REDIS_URL, True
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("ilert:kick-count:test")
    kick.reset()
    yield client
    client.delete("ilert:kick-count:test")
    kick.reset()


def commit_with_kick(task, n, capture):
    with capture(execute=True):
        kick.coalesced(task, "test", n)


def test_kicks_while_one_waits_to_start_publish_nothing_until_its_task_starts(broker, settings, monkeypatch,
                                                                            django_capture_on_commit_callbacks):
    monkeypatch.setattr(kick, "COALESCE_SECONDS", 600)  # the count must not expire on a slow machine mid-test
    task = Recorded(settings.REDIS_URL)
    for n in range(3):
        commit_with_kick(task, n, django_capture_on_commit_callbacks)
    assert task.published == [(0,)]
    assert 0 < broker.ttl("ilert:kick-count:test") <= kick.COALESCE_SECONDS  # a lost message holds off no longer
    kick.started("test")  # the task's pass begins
    assert kick.finished("test")  # nothing came in during it: the next commit publishes
    commit_with_kick(task, 3, django_capture_on_commit_callbacks)
    commit_with_kick(task, 4, django_capture_on_commit_callbacks)
    assert task.published == [(0,), (3,)]


def test_a_kick_that_could_not_be_published_leaves_no_mark(broker, settings, django_capture_on_commit_callbacks):
    refused = Recorded(settings.REDIS_URL, refuse=True)
    commit_with_kick(refused, 0, django_capture_on_commit_callbacks)
    assert not broker.exists("ilert:kick-count:test")
    kick.reset()  # the broker answers again
    task = Recorded(settings.REDIS_URL)
    commit_with_kick(task, 1, django_capture_on_commit_callbacks)
    assert task.published == [(1,)]


def test_without_a_redis_broker_every_kick_publishes(settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.TASK_RUNNER, settings.CELERY_BROKER_URL, settings.ILERT_KICK_TASKS = "local", "memory://", True
    ran = []

    class Local:
        name = "tests.local"

        def __call__(self, n):
            ran.append(n)

    from ilert.localtasks import LocalRunner

    runner = LocalRunner()
    monkeypatch.setattr(kick, "runner", runner)  # a runner of the test's own, stopped to wait for its kicks
    for n in range(3):
        commit_with_kick(Local(), n, django_capture_on_commit_callbacks)
    runner._pool.stop(timeout=30)
    assert sorted(ran) == [0, 1, 2]


def test_the_step_task_takes_the_count_before_each_pass_and_passes_again_while_commits_came_in(
        broker, monkeypatch, settings, django_capture_on_commit_callbacks):
    """A commit whose kick was not published (one was out, or a pass was on) is read by a pass that
    began after it."""
    from escalation import engine, paging, tasks

    monkeypatch.setattr(kick, "COALESCE_SECONDS", 600)  # no expiry mid-test on a slow machine
    mark = "ilert:kick-count:test"
    kicked = Recorded(settings.REDIS_URL)
    commit_with_kick(kicked, "first", django_capture_on_commit_callbacks)
    counted_at_pass = []

    def tick():
        counted_at_pass.append(int(broker.get(mark) or 0))  # 1: a pass is on
        if len(counted_at_pass) == 1:  # two incidents commit during the first pass: their kicks stay home
            for n in (1, 2):
                commit_with_kick(kicked, n, django_capture_on_commit_callbacks)
        return 1

    monkeypatch.setattr(engine, "tick", tick)
    monkeypatch.setattr(paging, "STEP_KICK", "test")  # the Recorded stand-in counts under "test"
    monkeypatch.setattr(tasks.paging, "STEP_KICK", "test")
    assert tasks.step.run(1, 0, 0) == 2
    assert kicked.published == [("first",)]  # the two during the pass published nothing...
    assert counted_at_pass == [1, 1]  # ...and a second pass, begun after them, read them
    assert not broker.exists(mark)  # the last pass found nothing new: the next commit publishes


def test_a_count_gone_during_a_pass_ends_the_ticking(broker, monkeypatch):
    """A count that expired during a long pass, or a Redis that refuses writes (full, a read-only
    replica), leaves no count to read: the ticking ends there (the sweeper covers what it cannot
    tell) instead of passing again for ever (found in review)."""
    from escalation import engine, paging, tasks

    monkeypatch.setattr(paging, "STEP_KICK", "test")
    passes = []

    def tick():
        passes.append(1)
        broker.delete("ilert:kick-count:test")  # expired meanwhile, or never written
        assert len(passes) < 5, "the ticking did not end"
        return 0

    monkeypatch.setattr(engine, "tick", tick)
    assert tasks.step.run(1, 0, 0) == 0
    assert passes == [1]
