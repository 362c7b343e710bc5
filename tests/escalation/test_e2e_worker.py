"""End to end with a real Celery worker (and beat) on Redis and PostgreSQL: an incident escalates
to level 2, and killing the worker in between and starting a new one loses nothing."""

from datetime import timedelta

import pytest

from alerts.models import Incident, LogKind
from ilert import clock
from tests.alerts.factories import alert, make_source
from tests.e2e.workers import Worker, purge_broker, wait_for, wait_for_a_whole_sweep
from tests.factories import UserFactory

from .factories import make_policy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def levels_paged(incident):
    return [e.data["level"] for e in incident.log_entries.filter(kind=LogKind.ESCALATED).order_by("at", "id")]


def test_a_killed_worker_loses_no_escalation(tenant, settings, tmp_path):
    settings.ILERT_KICK_TASKS = False  # the test process publishes nothing: the worker's sweeper finds the row
    purge_broker()
    policy = make_policy(tenant, [{"users": [UserFactory(tenant=tenant, name="Ana")], "timeout_minutes": 30},
                                  {"users": [UserFactory(tenant=tenant, name="Ben")], "timeout_minutes": 30}])
    incident = alert(make_source(tenant, escalation_policy=policy), key="k").incident

    worker = Worker(tmp_path, "first").start()
    try:
        wait_for(lambda: levels_paged(incident) == [1], message="level 1 by the worker")
    finally:
        worker.kill()  # a crash: no clean shutdown

    # The level's timeout passes while no worker runs (we move the due time instead of waiting 30 min).
    # First it is still an hour away: the new worker sweeps and must leave it alone (not before its
    # time); then it falls due and the worker's next sweeps must step it (soon after: within a few of
    # its sweeps, however slow the machine; the wait is a ceiling for a hung worker, not a measure).
    due = clock.now() + timedelta(hours=1)
    Incident.objects.filter(pk=incident.pk).update(next_escalation_at=due)
    second = Worker(tmp_path, "second").start()
    try:
        wait_for_a_whole_sweep("escalation.tasks.sweep", after=clock.now(), message="a sweep by the new worker")
        assert levels_paged(incident) == [1], "stepped before its time"
        due = clock.now()
        Incident.objects.filter(pk=incident.pk).update(next_escalation_at=due)
        wait_for(lambda: levels_paged(incident) == [1, 2], message="level 2 after the restart")
        incident.refresh_from_db()
        assert incident.escalation_level == 2 and incident.assigned_to.name == "Ben"
        performed = incident.log_entries.get(kind=LogKind.ESCALATED, data__level=2).at
        assert performed >= due, "not before its time"
    finally:
        second.stop()
    assert levels_paged(incident) == [1, 2], "each level exactly once"
