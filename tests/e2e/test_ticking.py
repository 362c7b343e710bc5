"""Losing any one process stops no sweeper (issue 14, item 6): real Celery workers on PostgreSQL and
Redis, plus the `celery beat` an older deployment still runs. Beat is killed (SIGKILL), then the worker
that took the last escalation tick: escalation goes on through the worker that is left."""

import os
import signal
import subprocess
import sys

import pytest

from alerts.models import Incident, LogKind
from ilert import clock
from ilert.models import Tick
from tests.alerts.factories import alert, make_source
from tests.e2e.workers import ROOT, Worker, purge_broker, wait_for, worker_env
from tests.escalation.factories import make_policy
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def levels_paged(incident):
    return [e.data["level"] for e in incident.log_entries.filter(kind=LogKind.ESCALATED).order_by("at", "id")]


def test_escalation_goes_on_when_beat_and_then_the_ticking_worker_are_killed(tenant, settings, tmp_path):
    settings.ILERT_KICK_TASKS = False  # nothing published from here: only a sweeper may step
    purge_broker()
    policy = make_policy(tenant, [{"users": [UserFactory(tenant=tenant, name=name)], "timeout_minutes": 30}
                                  for name in ("Ana", "Ben", "Cleo")])
    incident = alert(make_source(tenant, escalation_policy=policy), key="k").incident

    with open(tmp_path / "beat.log", "w") as beat_log:
        beat = subprocess.Popen(  # what docker-compose.yml used to run
            [sys.executable, "-m", "celery", "-A", "ilert", "beat", "--loglevel=INFO",
             f"--schedule={tmp_path / 'beat-schedule'}"],
            cwd=ROOT, env=worker_env(), stdout=beat_log, stderr=subprocess.STDOUT, start_new_session=True)
    workers = {name: Worker(tmp_path, name, beat=False).start() for name in ("w1", "w2")}
    try:
        wait_for(lambda: levels_paged(incident) == [1], message="level 1")
        os.killpg(beat.pid, signal.SIGKILL)
        beat.wait(timeout=10)

        Incident.objects.filter(pk=incident.pk).update(next_escalation_at=clock.now())
        wait_for(lambda: levels_paged(incident) == [1, 2], message="level 2 with beat dead")

        ticking = Tick.objects.get(name="escalation.tasks.sweep").taken_by.split("@")[0]
        workers[ticking].kill()
        Incident.objects.filter(pk=incident.pk).update(next_escalation_at=clock.now())
        wait_for(lambda: levels_paged(incident) == [1, 2, 3], message="level 3 with that worker dead")
        (left,) = set(workers) - {ticking}
        assert Tick.objects.get(name="escalation.tasks.sweep").taken_by.startswith(f"{left}@")
        assert workers[left].process.poll() is None
    finally:
        for worker in workers.values():
            worker.stop()
        if beat.poll() is None:
            os.killpg(beat.pid, signal.SIGKILL)
    assert levels_paged(incident) == [1, 2, 3], "each level exactly once"
