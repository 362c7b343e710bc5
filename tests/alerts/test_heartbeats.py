"""Heartbeats: pings at /api/heartbeats/<key>, the overdue sweeper, and resolving on the next ping."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from alerts import engine, services, tasks
from alerts.models import AlertSource, Incident
from ilert import clock
from ilert.errors import DomainError

from .factories import make_source

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["sql", "orm"])
def update(request, monkeypatch):
    """Every test runs with both writings of the ping's UPDATE: the SQL one PostgreSQL uses and the
    ORM one every other database uses (they must agree)."""
    from alerts.integrations import heartbeat

    if request.param == "orm":
        monkeypatch.setattr(heartbeat, "_sql_ping", heartbeat._orm_ping)
    return request.param


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="Nightly backup", integration_type="heartbeat",
                       heartbeat_interval_seconds=3600, heartbeat_grace_seconds=300)


def ping(source, method="get", path="/api/heartbeats/"):
    return getattr(Client(), method)(f"{path}{source.integration_key}")


def fresh(source):
    return AlertSource.objects.get(pk=source.pk)


def test_every_method_and_both_paths_answer_202(source):
    assert ping(source).status_code == 202
    assert ping(source, "head").status_code == 202
    assert ping(source, "post").status_code == 202
    assert ping(source, "get", "/api/v1/heartbeats/").status_code == 202
    assert ping(source, "put").status_code == 405


def test_a_ping_is_one_update(source, django_assert_num_queries):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as traveller:
        ping(source)
        traveller.shift(timedelta(minutes=10))
        with django_assert_num_queries(1):
            assert ping(source).status_code == 202
        source = fresh(source)
        assert source.last_ping_at == clock.now()
        assert source.next_expected_at == clock.now() + timedelta(seconds=3900)


def test_the_timer_starts_at_the_first_ping(source):
    assert fresh(source).next_expected_at is None
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False):
        assert engine.heartbeats_overdue() == 0
        ping(source)
        source = fresh(source)
        assert source.last_ping_at == clock.now()
        assert source.next_expected_at == clock.now() + timedelta(seconds=3900)


def test_a_missed_heartbeat_opens_one_incident_and_the_next_ping_resolves_it(source):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as traveller:
        ping(source)
        traveller.shift(timedelta(seconds=3899))
        assert engine.heartbeats_overdue() == 0
        traveller.shift(timedelta(seconds=2))
        assert engine.heartbeats_overdue() == 1
        assert engine.heartbeats_overdue() == 0  # claimed once
        incident = Incident.objects.get()
        assert incident.summary == "Heartbeat missed: Nightly backup" and incident.status == "PENDING"
        assert "every 1 hour" in incident.details and fresh(source).heartbeat_overdue
        traveller.shift(timedelta(hours=5))
        assert engine.heartbeats_overdue() == 0  # still the same incident, no second one
        response = ping(source)
        assert response.status_code == 202 and response.json()["responseCode"] == "INCIDENT_RESOLVED"
        incident.refresh_from_db()
        assert incident.status == "RESOLVED" and not fresh(source).heartbeat_overdue
        assert Incident.objects.count() == 1


def test_resolve_on_ping_can_be_turned_off(source):
    services.update_alert_source(source, heartbeat_resolve_on_ping=False)
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as traveller:
        ping(source)
        traveller.shift(timedelta(hours=2))
        tasks.sweep_heartbeats()
        ping(source)
        assert Incident.objects.get().status == "PENDING"
        assert fresh(source).next_expected_at > clock.now()


def test_overdue_detection_lives_in_the_database_only(source):
    """A restart of every process loses nothing: after the ping, only rows exist; a sweeper that
    starts later (a new process has no memory) still finds the overdue source."""
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False):
        ping(source)
    with time_machine.travel("2026-03-02 12:00:00Z", tick=False):
        assert tasks.sweep_heartbeats() == 1
    assert Incident.objects.get().alert_source_id == source.pk


def test_disabled_sources_are_refused_and_never_swept(source):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as traveller:
        ping(source)
        services.update_alert_source(source, status="disabled")
        assert ping(source).status_code == 403
        traveller.shift(timedelta(days=1))
        assert engine.heartbeats_overdue() == 0
        services.update_alert_source(fresh(source), status="active")
        assert engine.heartbeats_overdue() == 0  # the timer restarts at the next ping
        assert not Incident.objects.exists()


def test_changing_the_interval_moves_the_deadline(source):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False):
        ping(source)
        services.update_alert_source(fresh(source), heartbeat_interval_seconds=60, heartbeat_grace_seconds=0)
        assert fresh(source).next_expected_at == clock.now() + timedelta(seconds=60)


@pytest.mark.parametrize("fields", [{"heartbeat_interval_seconds": 1}, {"heartbeat_interval_seconds": 10**8},
                                    {"heartbeat_grace_seconds": -1}, {"heartbeat_interval_seconds": "60"}])
def test_intervals_and_grace_are_bounded(source, fields):
    with pytest.raises(DomainError):
        services.update_alert_source(source, **fields)


def test_unknown_and_wrong_type_keys_get_404(tenant):
    other = make_source(tenant, integration_type="api")
    assert Client().get("/api/heartbeats/" + "x" * 43).status_code == 404
    assert Client().get(f"/api/heartbeats/{other.integration_key}").status_code == 404
    assert fresh(other).last_ping_at is None


def test_pings_over_the_rate_limit_get_429_until_the_window_is_over(source, settings):
    settings.INGEST_RATE_LIMIT = "2/minute"
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as traveller:
        assert [ping(source).status_code for _ in range(2)] == [202, 202]
        traveller.shift(timedelta(seconds=20))
        refused = ping(source)
        assert refused.status_code == 429 and refused["Retry-After"] == "40"
        assert refused.json()["code"] == "rate_limited"
        assert fresh(source).last_ping_at == clock.now() - timedelta(seconds=20)  # nothing written
        traveller.shift(timedelta(seconds=40))
        assert [ping(source).status_code for _ in range(3)] == [202, 202, 429]


def test_the_pings_limit_is_counted_in_the_row_so_every_process_shares_it(source, settings, monkeypatch):
    """No Redis round trip: the count lives in the source's row, which every process updates (a
    ping from another process is an UPDATE like any other)."""
    settings.INGEST_RATE_LIMIT = "3/minute"
    monkeypatch.setattr("ilert.ratelimit.hit", lambda *a, **k: pytest.fail("a ping asked Redis"))
    assert ping(source).status_code == 202
    AlertSource.objects.filter(pk=source.pk).update(ping_window_count=3)  # two pings from elsewhere
    assert ping(source).status_code == 429


def test_an_overdue_heartbeat_over_the_limit_stays_overdue(source, settings):
    settings.INGEST_RATE_LIMIT = "1/day"
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as traveller:
        ping(source)
        traveller.shift(timedelta(minutes=65, seconds=1))
        assert engine.heartbeats_overdue() == 1
        assert ping(source).status_code == 429
        assert fresh(source).heartbeat_overdue and Incident.objects.get().status == "PENDING"
        traveller.shift(timedelta(days=1))
        assert ping(source).json()["responseCode"] == "INCIDENT_RESOLVED"


def test_the_sweeper_is_a_beat_task(settings):
    assert "alerts.tasks.sweep_heartbeats" in settings.SWEEPER_TASKS


@pytest.mark.postgres
def test_a_ping_updates_its_row_in_place_without_index_writes(source):
    """No index covers a column a plain ping writes, so PostgreSQL makes it a HOT update (no new
    entry in any of the table's indexes per ping). An index on next_expected_at would fail this."""
    from django.db import connection

    ping(source)

    def hot_updates():
        with connection.cursor() as cursor:
            cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                           "WHERE relname = 'alerts_alertsource'")
            return cursor.fetchone()

    updates, hot = hot_updates()
    for _ in range(3):
        assert ping(source).status_code == 202
    assert hot_updates() == (updates + 3, hot + 3)
