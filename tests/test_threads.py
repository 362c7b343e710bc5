"""ilert/threads.py: job threads keep their database connections between jobs, close them when idle,
replace a broken one, and never run more jobs at once than they have threads."""

import threading

import pytest
from django.db import connections

from ilert.threads import Threads
from tests.e2e.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _connected():
    """The thread's connection wrapper and its driver connection, after a query."""
    wrapper = connections["default"]  # this thread's own (django.db.connection is a proxy to the caller's)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
    return wrapper, wrapper.connection


def test_a_thread_keeps_its_connection_from_one_job_to_the_next():
    threads = Threads(1, "test", idle_seconds=60)
    try:
        first = threads.submit(_connected).result(timeout=30)
        second = threads.submit(_connected).result(timeout=30)
    finally:
        threads.stop(timeout=30)
    assert first[0] is second[0], "one thread ran both jobs"
    assert second[1] is first[1], "the second job used the first job's connection, not a new one"


@pytest.mark.postgres  # SQLite's in-memory test database ignores close(): it would be lost
def test_a_thread_with_nothing_to_do_closes_its_connection_and_opens_one_for_its_next_job():
    threads = Threads(1, "test", idle_seconds=0.1)
    try:
        wrapper, raw = threads.submit(_connected).result(timeout=30)
        wait_for(lambda: wrapper.connection is None, message="the idle thread to close its connection")
        assert raw.closed
        again = threads.submit(_connected).result(timeout=30)
    finally:
        threads.stop(timeout=30)
    assert again[0] is wrapper and again[1] is not raw  # a new connection (itself closed again once idle)


@pytest.mark.postgres
def test_a_connection_the_server_ended_between_jobs_is_replaced(own_connection):
    threads = Threads(1, "test", idle_seconds=60)
    try:
        _, raw = threads.submit(_connected).result(timeout=30)
        with own_connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [raw.info.backend_pid])

        def gone():  # the server said goodbye on the socket before its process went
            with own_connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [raw.info.backend_pid])
                return cursor.fetchone()[0] == 0

        wait_for(gone, message="the terminated server process to exit")
        _, again = threads.submit(_connected).result(timeout=30)  # would raise on the dead connection
    finally:
        threads.stop(timeout=30)
    assert again is not raw


def test_a_failing_job_hands_its_error_to_its_future_and_the_thread_goes_on():
    threads = Threads(1, "test")
    try:
        failed = threads.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            failed.result(timeout=30)
        assert threads.submit(lambda: "next").result(timeout=30) == "next"
    finally:
        threads.stop(timeout=30)


def test_no_more_jobs_run_at_once_than_there_are_threads_and_the_rest_wait_their_turn():
    threads = Threads(2, "test")
    release, lock, running, most = threading.Event(), threading.Lock(), [0], [0]

    def job():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(timeout=60)
        with lock:
            running[0] -= 1
        return threading.current_thread().name

    try:
        futures = [threads.submit(job) for _ in range(5)]
        wait_for(lambda: running[0] == 2, message="two jobs running")
        assert not any(future.done() for future in futures)
        release.set()
        names = {future.result(timeout=30) for future in futures}
    finally:
        threads.stop(timeout=30)
    assert most[0] == 2 and len(names) == 2


@pytest.mark.postgres  # SQLite's in-memory test database ignores close(): it would be lost
def test_no_more_threads_than_keep_hold_a_connection_after_a_burst():
    """Every thread of a burst connects; afterwards only `keep` of them stay connected."""
    threads = Threads(3, "test", keep=1, idle_seconds=60)
    release, started = threading.Event(), threading.Semaphore(0)

    def job():
        wrapper = _connected()[0]
        started.release()
        release.wait(timeout=60)
        return wrapper

    try:
        futures = [threads.submit(job) for _ in range(3)]
        for _ in range(3):
            assert started.acquire(timeout=60)  # all three connected at once
        release.set()
        wrappers = [future.result(timeout=30) for future in futures]
        wait_for(lambda: sum(w.connection is not None for w in wrappers) == 1, message="two to close theirs")
    finally:
        threads.stop(timeout=30)
    assert all(w.connection is None for w in wrappers)


@pytest.mark.postgres  # SQLite's in-memory test database ignores close(): it would be lost
def test_stopping_lets_the_queued_jobs_finish_and_closes_the_connections():
    threads = Threads(1, "test", idle_seconds=60)
    futures = [threads.submit(_connected) for _ in range(3)]
    threads.stop(timeout=30)
    assert all(future.done() for future in futures)
    wrapper, raw = futures[-1].result()
    assert wrapper.connection is None and raw.closed
    with pytest.raises(RuntimeError):
        threads.submit(_connected)


def test_the_senders_keep_as_many_connections_as_the_setting_allows(settings):
    from notifications.senders import Pool

    settings.DB_KEEP_THREAD_CONNECTIONS = 2
    pool = Pool()
    pool.wait([pool.submit(_connected)])
    assert pool._threads.keepers.limit == 2
    settings.DB_KEEP_THREAD_CONNECTIONS = 0  # all of them
    settings.NOTIFICATION_SEND_CONCURRENCY = 5  # a new size: a new set of threads, reading the setting again
    pool.wait([pool.submit(_connected)])
    assert pool._threads.keepers.limit == 5
    pool._threads.stop(timeout=30)
