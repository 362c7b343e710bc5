"""Maintenance windows: an incident opened during one pages nobody while the window is on, and
starts escalating once an event arrives after the window (or when a person escalates it)."""

from datetime import timedelta

import pytest
import time_machine

from alerts import services
from alerts.events import incident_changed
from alerts.ingest import ResponseCode
from alerts.models import Incident, LogKind
from escalation import engine as escalation_engine
from tests.escalation.factories import make_policy
from tests.factories import UserFactory

from .factories import alert, make_source, make_window

pytestmark = pytest.mark.django_db

T0 = "2026-03-10 09:00:00Z"


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def announced():
    seen = []

    def receiver(sender, changes, **kwargs):
        seen.extend((change.kind, change.via, change.incident.next_escalation_at) for change in changes)

    incident_changed.connect(receiver)
    yield seen
    incident_changed.disconnect(receiver)


@pytest.fixture
def ana(tenant):
    return UserFactory(tenant=tenant, name="Ana")


@pytest.fixture
def source(tenant, ana):
    source = make_source(tenant, escalation_policy=make_policy(tenant, [{"users": [ana], "timeout_minutes": 5}]))
    return source


def window_now(tenant, source, minutes=60):
    """A maintenance window that started a minute ago and lasts `minutes` more."""
    start = services.clock.now() - timedelta(minutes=1)
    return services.add_maintenance_window(source, start=start, end=start + timedelta(minutes=minutes + 1))


def escalated(incident):
    return list(incident.log_entries.filter(kind=LogKind.ESCALATED).values_list("message", flat=True))


def test_an_event_after_the_window_starts_the_escalation_of_an_incident_opened_during_it(
        tenant, source, clock, announced, django_capture_on_commit_callbacks):
    window_now(tenant, source)
    opened = alert(source, key="disk")
    assert opened.code == ResponseCode.EVENT_IGNORED
    assert escalation_engine.tick() == 0
    clock.shift(timedelta(minutes=30))
    assert alert(source, key="disk").code == ResponseCode.EVENT_IGNORED  # still in the window
    incident = Incident.objects.get()
    assert incident.in_maintenance and incident.next_escalation_at is None
    assert escalated(incident) == []

    clock.shift(timedelta(hours=1))  # the window is over; the alert still fires
    announced.clear()
    with django_capture_on_commit_callbacks(execute=True) as kicks:
        again = alert(source, key="disk")
    assert kicks  # the escalation engine was woken right after commit
    assert again.code == ResponseCode.EVENT_APPENDED and again.incident.pk == incident.pk
    incident.refresh_from_db()
    assert not incident.in_maintenance
    assert incident.log_entries.filter(kind=LogKind.INFO, message__icontains="maintenance window over").exists()
    assert ("escalation_requested", "maintenance", services.clock.now()) in announced
    # The woken engine (tasks run eagerly in tests) paged level 1.
    assert len(escalated(incident)) == 1 and "Ana" in escalated(incident)[0]
    assert incident.escalation_level == 1 and incident.assigned_to.name == "Ana"


def test_without_a_wake_up_the_sweeper_finds_the_incident_due_after_the_window(tenant, source, clock, settings):
    window_now(tenant, source)
    alert(source, key="disk")
    clock.shift(timedelta(hours=2))
    settings.ILERT_KICK_TASKS = False  # only the sweeper acts
    alert(source, key="disk")
    incident = Incident.objects.get()
    assert incident.next_escalation_at == services.clock.now()
    assert escalation_engine.tick() == 1
    incident.refresh_from_db()
    assert incident.escalation_level == 1


def test_an_accepted_incident_leaves_maintenance_without_escalating(tenant, source, clock, ana):
    window_now(tenant, source)
    incident = alert(source, key="disk").incident
    services.accept(incident, by=ana)
    clock.shift(timedelta(hours=2))
    assert alert(source, key="disk").code == ResponseCode.EVENT_APPENDED
    incident.refresh_from_db()
    assert not incident.in_maintenance and incident.status == "ACCEPTED" and incident.next_escalation_at is None
    assert escalated(incident) == []


def test_a_person_escalating_during_the_window_takes_the_incident_out_of_maintenance(
        tenant, source, clock, ana, django_capture_on_commit_callbacks):
    window_now(tenant, source)
    incident = alert(source, key="disk").incident
    with django_capture_on_commit_callbacks(execute=True):
        services.escalate(incident, by=ana, via="dashboard")
    incident.refresh_from_db()
    assert not incident.in_maintenance
    assert len(escalated(incident)) == 1
    # a later event inside the window changes nothing about that
    clock.shift(timedelta(minutes=5))
    alert(source, key="disk")
    incident.refresh_from_db()
    assert not incident.in_maintenance


def test_an_event_in_a_following_window_keeps_the_incident_in_maintenance(tenant, source, clock):
    window_now(tenant, source, minutes=30)
    alert(source, key="disk")
    clock.shift(timedelta(hours=1))
    window_now(tenant, source, minutes=30)
    assert alert(source, key="disk").code == ResponseCode.EVENT_IGNORED
    incident = Incident.objects.get()
    assert incident.in_maintenance and incident.next_escalation_at is None


def test_windows_of_another_source_do_not_matter(tenant, source, clock):
    other = make_source(tenant)
    make_window(tenant, source=other, start=services.clock.now() - timedelta(minutes=1))
    assert alert(source, key="disk").code == ResponseCode.NEW_INCIDENT_CREATED
