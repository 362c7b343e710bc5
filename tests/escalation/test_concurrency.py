"""Two sweepers racing on PostgreSQL (threads with their own connections) over 200 due incidents:
every step is performed exactly once."""

import threading
from collections import Counter

import pytest
from django.db import connection

from alerts.models import Incident, IncidentLogEntry, LogKind
from escalation import engine
from tests.alerts.factories import alert, make_source
from tests.factories import UserFactory

from .factories import make_policy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_racing_sweepers_perform_every_step_exactly_once(tenant, settings):
    settings.ILERT_KICK_TASKS = False  # only the sweepers act
    policy = make_policy(tenant, [{"users": [UserFactory(tenant=tenant)], "timeout_minutes": 0},
                                  {"users": [UserFactory(tenant=tenant)], "timeout_minutes": 30}])
    source = make_source(tenant, escalation_policy=policy)
    for i in range(200):
        alert(source, key=f"k{i}")
    assert Incident.objects.filter(next_escalation_at__isnull=False).count() == 200

    barrier = threading.Barrier(2)
    counts, errors = [], []

    def sweeper():
        try:
            barrier.wait(timeout=60)  # a ceiling: starting a thread takes no time
            counts.append(engine.tick(batch=25))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    steps = Counter(
        (e.incident_id, e.data["level"]) for e in
        IncidentLogEntry.objects.filter(kind=LogKind.ESCALATED)
    )
    assert len(steps) == 400, "every incident went through level 1 (timeout 0) and then level 2"
    assert set(steps.values()) == {1}, "no step was performed twice"
    assert sum(counts) == 400
    assert set(Incident.objects.values_list("escalation_level", flat=True)) == {2}
