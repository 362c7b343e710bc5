"""The alerts sweepers (auto-resolve, overdue heartbeats) survive one bad item: it is retried a
little later, parked when it keeps failing, and every other tenant's items are processed."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from alerts import engine
from alerts.events import incident_changed
from alerts.models import AlertSource, Incident, LogKind

from .factories import alert, make_source

pytestmark = pytest.mark.django_db


@contextmanager
def failing(kind, when):
    """A subscriber that blows up on `kind` for incidents `when(incident)` picks (e.g. a broken
    connector receiver): the change that announces it must roll back."""

    def receiver(sender, changes, **kwargs):
        if any(change.kind == wanted and when(change.incident) for change in changes):
            raise RuntimeError("subscriber exploded")

    wanted = kind
    incident_changed.connect(receiver, dispatch_uid="test-failing")
    try:
        yield
    finally:
        incident_changed.disconnect(dispatch_uid="test-failing")


def warnings(incident):
    return list(incident.log_entries.filter(kind=LogKind.WARNING).values_list("message", flat=True))


def test_one_incident_that_fails_to_auto_resolve_does_not_stop_the_others(tenant, other_tenant):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as traveller:
        bad = alert(make_source(tenant, auto_resolve_minutes=10), key="bad").incident
        traveller.shift(timedelta(seconds=1))
        good = alert(make_source(other_tenant, auto_resolve_minutes=10), key="good").incident
        traveller.shift(timedelta(minutes=11))
        with failing("resolved", lambda incident: incident.pk == bad.pk):
            assert engine.auto_resolve_due() == 1
            good.refresh_from_db()
            bad.refresh_from_db()
            assert good.status == "RESOLVED"
            assert bad.status == "PENDING"
            assert "Auto-resolve failed (RuntimeError: subscriber exploded)" in warnings(bad)[-1]
            assert bad.auto_resolve_at > engine.clock.now()  # retried later, not on every sweep
            assert engine.auto_resolve_due() == 0
        traveller.shift(engine.RETRY_AFTER_ERROR)
        assert engine.auto_resolve_due() == 1  # the fault is gone: resolved on the retry
        bad.refresh_from_db()
        assert bad.status == "RESOLVED" and bad.log_entries.filter(kind=LogKind.RESOLVED).count() == 1


def test_an_incident_that_keeps_failing_to_auto_resolve_is_parked(tenant):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as traveller:
        bad = alert(make_source(tenant, auto_resolve_minutes=10), key="bad").incident
        traveller.shift(timedelta(minutes=11))
        with failing("resolved", lambda incident: True):
            for _ in range(engine.MAX_ERRORS):
                assert engine.auto_resolve_due() == 0
                traveller.shift(engine.RETRY_AFTER_ERROR)
        bad.refresh_from_db()
        assert bad.status == "PENDING" and bad.auto_resolve_at is None
        assert len(warnings(bad)) == engine.MAX_ERRORS and "parked" in warnings(bad)[-1]
        traveller.shift(timedelta(hours=1))
        assert engine.auto_resolve_due() == 0


def test_a_full_batch_of_failing_incidents_does_not_starve_the_rest(tenant, other_tenant):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as traveller:
        source = make_source(tenant, auto_resolve_minutes=10)
        bad = [alert(source, key=f"bad{i}").incident.pk for i in range(3)]
        traveller.shift(timedelta(seconds=1))
        good = alert(make_source(other_tenant, auto_resolve_minutes=10), key="good").incident
        traveller.shift(timedelta(minutes=11))
        with failing("resolved", lambda incident: incident.pk in bad):
            assert engine.auto_resolve_due(batch=3) == 0  # the three bad ones come first
            assert engine.auto_resolve_due(batch=3) == 1
        good.refresh_from_db()
        assert good.status == "RESOLVED"


def heartbeat(tenant, name):
    return make_source(tenant, name=name, integration_type="heartbeat",
                       heartbeat_interval_seconds=60, heartbeat_grace_seconds=0)


def test_one_heartbeat_that_fails_to_open_its_incident_does_not_stop_the_others(tenant, other_tenant):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as traveller:
        bad = heartbeat(tenant, "Bad")
        Client().get(f"/api/heartbeats/{bad.integration_key}")
        traveller.shift(timedelta(seconds=1))
        good = heartbeat(other_tenant, "Good")
        Client().get(f"/api/heartbeats/{good.integration_key}")
        traveller.shift(timedelta(minutes=5))
        with failing("created", lambda incident: incident.alert_source_id == bad.pk):
            assert engine.heartbeats_overdue() == 1
        assert Incident.objects.filter(alert_source=good).count() == 1
        assert not Incident.objects.filter(alert_source=bad).exists()
        bad.refresh_from_db()
        assert not bad.heartbeat_overdue
        assert bad.next_expected_at == engine.clock.now() + engine.RETRY_AFTER_ERROR  # tried again later
        assert engine.heartbeats_overdue() == 0
        traveller.shift(engine.RETRY_AFTER_ERROR)
        assert engine.heartbeats_overdue() == 1  # the fault is gone
        assert Incident.objects.filter(alert_source=bad).count() == 1
        assert AlertSource.objects.get(pk=bad.pk).heartbeat_overdue
