"""The ticker (ilert/ticker.py): every worker may tick the periodic tasks, each tick is taken by one of
them, and the ones that are left take the ticks of one that died."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings

from alerts.models import Incident, LogKind
from ilert import clock
from ilert.models import Tick
from ilert.ticker import Ticker, schedule_for
from tests.alerts.factories import alert, make_source
from tests.escalation.factories import make_policy
from tests.factories import UserFactory

ran = threading.Event()


def record():
    """A periodic task for the threaded test below (the ticker imports tasks by dotted name)."""
    ran.set()


@pytest.mark.django_db
def test_each_tick_is_taken_by_exactly_one_ticker_and_a_dead_ones_ticks_by_another():
    first, second = Ticker({"alerts.tasks.sweep": 2}, identity="w1:1"), Ticker({"alerts.tasks.sweep": 2}, identity="w2:1")
    t0 = clock.now()
    assert [first.take("alerts.tasks.sweep", t0)[0], second.take("alerts.tasks.sweep", t0)[0]] == [True, False]
    assert first.take("alerts.tasks.sweep", t0 + timedelta(seconds=1.9)) == (False, t0 + timedelta(seconds=2))
    assert second.take("alerts.tasks.sweep", t0 + timedelta(seconds=1.9))[0] is False

    # The first one dies (it never asks again): the second takes the very next tick.
    assert second.take("alerts.tasks.sweep", t0 + timedelta(seconds=2)) == (True, t0 + timedelta(seconds=4))
    assert Tick.objects.get(name="alerts.tasks.sweep").taken_by == "w2:1"
    assert first.take("alerts.tasks.sweep", t0 + timedelta(seconds=3))[0] is False


@pytest.mark.django_db
def test_a_tick_runs_the_sweeper_in_this_process_with_no_broker(tenant, settings):
    settings.ILERT_KICK_TASKS = False  # no early wake-up anywhere: only the tick can step it
    policy = make_policy(tenant, [{"users": [UserFactory(tenant=tenant)], "timeout_minutes": 5}])
    incident = alert(make_source(tenant, escalation_policy=policy), key="k").incident
    assert not incident.log_entries.filter(kind=LogKind.ESCALATED).exists()

    ticker = Ticker({"escalation.tasks.sweep": 2})
    t0 = clock.now()  # the ticks at chosen instants: a paused test process must not see the interval pass
    assert ticker.tick("escalation.tasks.sweep", now=t0)[0] is True
    assert Incident.objects.get(pk=incident.pk).escalation_level == 1
    assert ticker.tick("escalation.tasks.sweep", now=t0 + timedelta(seconds=1.9))[0] is False, \
        "not due again before its interval"


def test_a_worker_ticks_the_periodic_tasks_of_the_queues_it_consumes():
    assert set(settings.SWEEPER_TASKS) <= set(settings.TICK_SCHEDULE)
    assert set(schedule_for()) == set(settings.TICK_SCHEDULE)
    uptime = {name for name in settings.TICK_SCHEDULE if name.startswith("uptime.")}
    assert uptime == {"uptime.tasks.sweep", "uptime.tasks.maintain"}
    assert set(schedule_for({"uptime"})) == uptime
    assert set(schedule_for({"celery"})) == set(settings.TICK_SCHEDULE) - uptime
    assert set(schedule_for({"celery", "uptime"})) == set(settings.TICK_SCHEDULE)


def test_every_worker_starts_a_ticker():
    from ilert.celery import Ticker as TickerStep
    from ilert.celery import app

    assert TickerStep in app.steps["worker"]


@pytest.mark.django_db(transaction=True)
def test_a_started_ticker_runs_its_task_in_a_thread_of_its_own_and_stops():
    ran.clear()
    ticker = Ticker({"tests.test_ticker.record": 3600}).start()
    try:
        assert ran.wait(timeout=60), "the first tick of a new task is due at once"
    finally:
        ticker.stop(timeout=120)  # a ceiling for a hung thread; it stops at once
    assert all(not thread.is_alive() for thread in ticker._threads)
    assert Tick.objects.get(name="tests.test_ticker.record").due_at > clock.now() + timedelta(minutes=59)
