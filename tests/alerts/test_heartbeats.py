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


HOST = {"fast": "127.0.0.1", "full": "testserver"}  # one of our hosts (alerts.fastpath), and the test client's
_route = {"host": HOST["fast"]}


@pytest.fixture(autouse=True, params=["fast-sql", "fast-orm", "full-sql"])
def route(request, monkeypatch):
    """Every test runs three ways: through the fast path (alerts.fastpath, our hosts) with both
    writings of the ping's UPDATE (the SQL one PostgreSQL uses, the ORM one every other database
    uses: they must agree), and through the whole middleware (a host that is not ours)."""
    from alerts.integrations import heartbeat

    way, update = request.param.split("-")
    if update == "orm":
        monkeypatch.setattr(heartbeat, "_sql_ping", heartbeat._orm_ping)
    monkeypatch.setitem(_route, "host", HOST[way])
    return request.param


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="Nightly backup", integration_type="heartbeat",
                       heartbeat_interval_seconds=3600, heartbeat_grace_seconds=300)


def ping(source, method="get", path="/api/heartbeats/"):
    return getattr(Client(HTTP_HOST=_route["host"]), method)(f"{path}{source.integration_key}")


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
    assert Client(HTTP_HOST=_route["host"]).get("/api/heartbeats/" + "x" * 43).status_code == 404
    assert Client(HTTP_HOST=_route["host"]).get(f"/api/heartbeats/{other.integration_key}").status_code == 404
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
def test_no_index_covers_a_column_a_ping_writes(route):
    """So PostgreSQL can update the row in place (a HOT update: no new entry in any of the table's
    indexes per ping, no index bloat). An index on next_expected_at (as before) would fail this."""
    from django.db import connection

    if route != "fast-sql":
        pytest.skip("one run is enough")
    written = {"last_ping_at", "next_expected_at", "ping_window_started_at", "ping_window_count"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                       "WHERE indrelid = 'alerts_alertsource'::regclass")
        indexes = dict(cursor.fetchall())
    assert "alertsource_heartbeat_watch" in indexes
    assert {name: d for name, d in indexes.items() if any(column in d for column in written)} == {}


def test_pings_on_our_hosts_skip_url_resolving_and_the_rest_of_the_middleware(source, monkeypatch):
    """alerts.fastpath answers them; a host that is not ours (a status page's custom domain) goes
    the usual way."""
    from django.urls.resolvers import URLResolver

    from ilert import tenancy as tenancy_module

    resolved, tenancy = [], []
    real, real_tenant_of = URLResolver.resolve, tenancy_module.tenant_of
    monkeypatch.setattr(URLResolver, "resolve", lambda self, path: resolved.append(path) or real(self, path))
    monkeypatch.setattr(tenancy_module, "tenant_of", lambda request: tenancy.append(1) or real_tenant_of(request))
    for path in ("/api/heartbeats/", "/api/v1/heartbeats/"):
        assert Client(HTTP_HOST=HOST["fast"]).get(f"{path}{source.integration_key}").status_code == 202
    assert resolved == [] and tenancy == []
    assert Client(HTTP_HOST=HOST["full"]).get(f"/api/heartbeats/{source.integration_key}").status_code == 202
    assert resolved and tenancy
