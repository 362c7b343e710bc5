"""De-duplication holds under concurrency (docs/architecture.md §4): 50 identical events fired at once at
PostgreSQL end in exactly one incident with 50 events on its timeline."""

import threading
import time

import pytest
from django.db import connection, connections

from alerts import services
from alerts.ingest import EventType, InboundEvent, ResponseCode
from alerts.models import Incident, LogKind

from .factories import make_source

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def fire_concurrently(source, n, make_event):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def worker(i):
        try:
            barrier.wait(timeout=60)
            results.append(services.ingest(source, make_event(i)))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def test_fifty_concurrent_identical_events_make_one_incident_with_fifty_events(tenant):
    source = make_source(tenant)
    results, errors = fire_concurrently(
        source, 50, lambda i: InboundEvent(EventType.ALERT, summary="CPU on fire", incident_key="cpu-1")
    )
    assert errors == []
    assert Incident.objects.count() == 1
    incident = Incident.objects.get()
    assert incident.event_count == 50
    assert incident.log_entries.filter(kind=LogKind.EVENT).count() == 50
    assert incident.log_entries.filter(kind=LogKind.CREATED).count() == 1
    codes = sorted(r.code for r in results)
    assert codes.count(ResponseCode.NEW_INCIDENT_CREATED) == 1 and codes.count(ResponseCode.EVENT_APPENDED) == 49
    assert {r.incident.pk for r in results} == {incident.pk}


def test_concurrent_events_for_different_keys_get_consecutive_numbers(tenant):
    source = make_source(tenant)
    results, errors = fire_concurrently(
        source, 20, lambda i: InboundEvent(EventType.ALERT, summary=f"host {i} down", incident_key=f"host-{i}")
    )
    assert errors == []
    assert sorted(Incident.objects.values_list("number", flat=True)) == list(range(1, 21))


def test_an_event_racing_a_resolve_never_lands_on_the_resolved_incident(tenant):
    """The append statement waits for the resolve's row lock, then sees the incident resolved and
    leaves the event to the full path, which opens a new incident (alerts/services/append.py)."""
    source = make_source(tenant)
    first = services.ingest(source, InboundEvent(EventType.ALERT, summary="db-1 down", incident_key="db-1")).incident
    other = connections.create_connection("default")  # the resolve, in a transaction of its own
    results = []
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("UPDATE alerts_incident SET status = 'RESOLVED' WHERE id = %s", [first.pk])
            racing = threading.Thread(target=lambda: (results.append(services.ingest(
                source, InboundEvent(EventType.ALERT, summary="db-1 down", incident_key="db-1"))), connection.close()))
            racing.start()
            deadline = time.monotonic() + 60
            waiting = 0
            while not waiting and time.monotonic() < deadline:  # the append blocks on the row lock
                # This database's backends only (xdist runs other tests' databases beside it).
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction reads the activity once
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'")
                waiting = cursor.fetchone()[0]
            assert waiting, "the append never waited for the resolve's lock"
            cursor.execute("COMMIT")
        racing.join(60)
    finally:
        other.close()
    assert [result.code for result in results] == [ResponseCode.NEW_INCIDENT_CREATED]
    first.refresh_from_db()
    assert first.event_count == 1 and first.log_entries.filter(kind=LogKind.EVENT).count() == 1
    assert Incident.objects.get(alert_source=source, status="PENDING").pk == results[0].incident.pk
