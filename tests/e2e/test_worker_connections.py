"""A Celery worker keeps its database connections from one task to the next (ilert/celery.py,
settings.CELERY_DB_REUSE_MAX): Celery's Django fixup closed them around every task by default, which
cost a new PostgreSQL connection (a forked server process) per task."""

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from tests.e2e.workers import Worker, purge_broker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

TASKS = 60


def sessions_opened():
    """Connections made to the test database so far (a server process counts its own when it reports
    its statistics, at the latest when it exits)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_a_worker_thread_runs_task_after_task_on_one_connection(tmp_path):
    purge_broker()
    broker = Celery(broker=settings.REDIS_URL, set_as_current=False)  # the tests' own app runs tasks eagerly

    def send():
        broker.send_task("notifications.tasks.send", args=([],))  # claims nothing: one query

    worker = Worker(tmp_path, "w1", concurrency=1, DB_CONN_MAX_AGE="60").start()
    try:
        wait_for(lambda: "ready." in worker.output(), message="the worker to be ready")
        send()  # the task thread's first connection
        wait_for(lambda: worker.output().count("] succeeded") >= 1, message="the first task")
        before = sessions_opened()
        for _ in range(TASKS):
            send()
        wait_for(lambda: worker.output().count("] succeeded") >= TASKS + 1, message=f"{TASKS} more tasks")
        opened = sessions_opened() - before
    finally:
        worker.stop()
    # One per task if each closed its connection; the worker's ticker threads (a dozen, each opening
    # its own as it starts or after a long interval) account for the ones allowed.
    assert opened < TASKS // 2, f"{opened} connections opened for {TASKS} tasks"
