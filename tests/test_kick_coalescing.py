"""Coalesced kicks (ilert/kick.py): while one is published and its task has not started, further
kicks of the same name publish nothing; once the task starts, the next one publishes again. A mark
whose message was lost expires; one whose publish failed is taken back at once."""

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
    client.delete("ilert:kick-pending:test")
    kick.reset()
    yield client
    client.delete("ilert:kick-pending:test")
    kick.reset()


def commit_with_kick(task, n, capture):
    with capture(execute=True):
        kick.coalesced(task, "test", n)


def test_kicks_while_one_waits_to_start_publish_nothing_until_its_task_starts(broker, settings,
                                                                            django_capture_on_commit_callbacks):
    task = Recorded(settings.REDIS_URL)
    for n in range(3):
        commit_with_kick(task, n, django_capture_on_commit_callbacks)
    assert task.published == [(0,)]
    assert 0 < broker.ttl("ilert:kick-pending:test") <= kick.COALESCE_SECONDS  # a lost message holds off no longer
    kick.started("test")  # the task starts: what commits from now on needs a kick of its own
    commit_with_kick(task, 3, django_capture_on_commit_callbacks)
    commit_with_kick(task, 4, django_capture_on_commit_callbacks)
    assert task.published == [(0,), (3,)]


def test_a_kick_that_could_not_be_published_leaves_no_mark(broker, settings, django_capture_on_commit_callbacks):
    refused = Recorded(settings.REDIS_URL, refuse=True)
    commit_with_kick(refused, 0, django_capture_on_commit_callbacks)
    assert not broker.exists("ilert:kick-pending:test")
    kick.reset()  # the broker answers again
    task = Recorded(settings.REDIS_URL)
    commit_with_kick(task, 1, django_capture_on_commit_callbacks)
    assert task.published == [(1,)]


def test_without_a_redis_broker_every_kick_publishes(settings, django_capture_on_commit_callbacks):
    settings.TASK_RUNNER, settings.CELERY_BROKER_URL, settings.ILERT_KICK_TASKS = "local", "memory://", True
    ran = []

    class Local:
        name = "tests.local"

        def __call__(self, n):
            ran.append(n)

    from ilert.localtasks import LocalRunner

    runner = LocalRunner()
    original, kick.runner = kick.runner, runner
    try:
        for n in range(3):
            commit_with_kick(Local(), n, django_capture_on_commit_callbacks)
        runner._pool.stop(timeout=30)
    finally:
        kick.runner = original
    assert sorted(ran) == [0, 1, 2]


def test_the_step_task_takes_its_mark_off_before_it_reads_anything(broker, monkeypatch):
    """An incident committed while the kick waited was not kicked on its own: the tick must find it."""
    from escalation import engine, paging, tasks

    mark = f"ilert:kick-pending:{paging.STEP_KICK}"
    broker.set(mark, 1, ex=60)
    marked_when_ticking = []
    monkeypatch.setattr(engine, "tick", lambda: marked_when_ticking.append(broker.exists(mark)) or 0)
    tasks.step.run(1, 0, 0)
    assert marked_when_ticking == [0]
