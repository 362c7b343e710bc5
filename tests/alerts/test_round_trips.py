"""Round trips to the database per event: the Event API's append and new-incident paths and a
heartbeat ping take a pinned number of statements (a regression that adds one fails here), and the
per-process cache of sources by key never lets a revoked, rotated or disabled key through."""

import json

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from alerts import selectors
from alerts.models import AlertSource, Incident, IncidentLogEntry
from alerts.services.append import try_append
from ilert import clock

from .factories import make_source

# Counted inside the test's transaction: the request's BEGIN/COMMIT show as SAVEPOINT/RELEASE.
APPEND = 1  # one statement: UPDATE (the source's row and maintenance checked) + timeline INSERT
#             (alerts/services/append.py); the reports find the append by its count later
NEW_INCIDENT = 8  # the append statement (no open incident; the source row current, maintenance), savepoint,
#                   counter+incident INSERT,
#                   timeline INSERT, the connectors' and status pages' lookups, the reports mark, release
PING = 1  # one UPDATE of the source's row (which also counts the rate limit)


def post(key, alert_key="db-1", event_type="ALERT"):
    body = {"integrationKey": key, "eventType": event_type, "summary": "db-1 down", "alertKey": alert_key}
    return Client().post("/api/events", json.dumps(body), content_type="application/json")


@pytest.fixture
def source(tenant):
    source = make_source(tenant, name="Prometheus")
    assert post(source.integration_key, "warm-up").status_code == 202  # this process has seen the key
    return source


@pytest.mark.postgres  # on SQLite every event takes the full path (alerts/services/append.py)
def test_an_event_appended_to_an_open_incident_takes_one_statement(source, django_assert_num_queries):
    assert post(source.integration_key).status_code == 202
    with django_assert_num_queries(APPEND):
        assert post(source.integration_key).json()["responseCode"] == "EVENT_APPENDED"
    incident = Incident.objects.get(incident_key="db-1")
    assert incident.event_count == 2
    assert IncidentLogEntry.objects.filter(incident=incident, kind="event").count() == 2


@pytest.mark.parametrize("look", ["report read", "sweeper"])
def test_appended_events_reach_the_reports_by_their_count(source, look):
    """An append marks nothing (no trigger, no domain event): the reports' catch-up before a read
    and the sweeper fold the incident because its event count differs from its fact's."""
    from reports import rollups
    from reports.models import DirtyIncident, IncidentFact

    assert post(source.integration_key).status_code == 202
    incident = Incident.objects.get(incident_key="db-1")
    rollups.catch_up(source.tenant)
    assert IncidentFact.objects.get(incident=incident).events == 1
    for _ in range(2):
        assert post(source.integration_key).json()["responseCode"] == "EVENT_APPENDED"
    assert not DirtyIncident.objects.filter(incident=incident).exists()
    with CaptureQueriesContext(connection) as caught_up:
        if look == "report read":
            rollups.catch_up(source.tenant)
        else:
            rollups.sweep()
    assert IncidentFact.objects.get(incident=incident).events == 3
    # No mark written for it on the way: a report read folds inside its own transaction, and marks it
    # wrote there were held to its end, deadlocking with a sweeper that marked in another order.
    assert not [q["sql"] for q in caught_up.captured_queries
                if "reports_dirtyincident" in q["sql"] and not q["sql"].startswith(("SELECT", "DELETE"))]
    assert not DirtyIncident.objects.filter(incident=incident).exists()


@pytest.mark.postgres
def test_an_event_that_opens_an_incident_takes_eight_statements(source, django_assert_num_queries):
    with django_assert_num_queries(NEW_INCIDENT):
        assert post(source.integration_key, "db-2").json()["responseCode"] == "NEW_INCIDENT_CREATED"
    incident = Incident.objects.get(incident_key="db-2")
    assert incident.number == 2  # the warm-up's incident is #1
    assert list(IncidentLogEntry.objects.filter(incident=incident).values_list("kind", flat=True)
                .order_by("id")) == ["created", "event"]


def test_a_heartbeat_ping_takes_one_statement(tenant, django_assert_num_queries):
    heartbeat = make_source(tenant, name="cron", integration_type="heartbeat")
    for host in ("127.0.0.1", "testserver"):  # one of ours (alerts.fastpath), and through the whole middleware
        client = Client(HTTP_HOST=host)
        assert client.get(f"/api/heartbeats/{heartbeat.integration_key}").status_code == 202
        with django_assert_num_queries(PING):
            assert client.get(f"/api/heartbeats/{heartbeat.integration_key}").status_code == 202


# A change made by another process reaches this one only through the database: a queryset
# .update() sends no signal, so the cached source here is stale, as it would be in another process.


@pytest.mark.parametrize("alert_key, event_type", [("warm-up", "ALERT"), ("new", "ALERT"), ("warm-up", "RESOLVE"),
                                                   ("none-open", "RESOLVE")])
def test_a_key_rotated_in_another_process_stops_at_once(source, alert_key, event_type):
    old_key = source.integration_key
    fresh = AlertSource.objects.get(pk=source.pk)
    fresh.set_integration_key("a-new-key-for-this-source")
    AlertSource.objects.filter(pk=source.pk).update(key_hash=fresh.key_hash, key_encrypted=fresh.key_encrypted,
                                                    folded_key_hash=fresh.folded_key_hash)
    response = post(old_key, alert_key, event_type)
    assert response.status_code == 404, response.content
    assert Incident.objects.filter(alert_source=source).count() == 1
    assert Incident.objects.get(alert_source=source).status == "PENDING"
    again = post("a-new-key-for-this-source", alert_key, event_type)
    assert again.status_code == 202, again.content


def test_a_source_deleted_in_another_process_stops_at_once(source):
    old_key = source.integration_key
    AlertSource.objects.filter(pk=source.pk).delete()
    assert post(old_key, "warm-up").status_code == 404
    assert post(old_key, "new").status_code == 404


@pytest.mark.parametrize("alert_key", ["warm-up", "new"])
def test_a_source_disabled_in_another_process_refuses_at_once(source, alert_key):
    AlertSource.objects.filter(pk=source.pk).update(status="disabled")
    response = post(source.integration_key, alert_key)
    assert response.status_code == 403 and "disabled" in response.json()["message"]
    AlertSource.objects.filter(pk=source.pk).update(status="active")
    assert post(source.integration_key, alert_key).status_code == 202  # and enabled again, at once too


def test_a_mode_changed_in_another_process_is_followed_at_once(source):
    AlertSource.objects.filter(pk=source.pk).update(creation_mode="open_new")
    assert post(source.integration_key, "warm-up").json()["responseCode"] == "NEW_INCIDENT_CREATED"
    assert Incident.objects.filter(alert_source=source, incident_key="warm-up").count() == 2


def test_a_change_saved_in_this_process_empties_the_cache(source):
    from alerts import services

    old_key = source.integration_key
    services.regenerate_integration_key(AlertSource.objects.get(pk=source.pk))
    assert not any(cached.pk == source.pk for cached in selectors._SOURCES.values())
    assert post(old_key).status_code == 404


@pytest.mark.parametrize("change", ["policy", "priority"])
def test_a_new_incident_follows_what_another_process_changed_on_its_source(source, tenant, change):
    from tests.escalation.factories import make_policy

    new = {"policy": {"escalation_policy": make_policy(tenant, name="Night shift")}, "priority": {"default_priority": "LOW"}}
    AlertSource.objects.filter(pk=source.pk).update(**new[change])  # this process's cached copy is stale now
    assert post(source.integration_key, "db-9").json()["responseCode"] == "NEW_INCIDENT_CREATED"
    incident = Incident.objects.get(incident_key="db-9")
    if change == "policy":
        assert incident.escalation_policy.name == "Night shift"
    else:
        assert incident.priority == "LOW"


class Event:
    via, event_type = "events api", "ALERT"

    @staticmethod
    def for_timeline():
        return {}


def synchronous_commit():
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_number_drawn_in_its_own_transaction_commits_without_waiting_for_the_disk(tenant):
    """alerts/services/append.py: run on its own (as the Event API runs it), the draw holds the
    tenant's counter row until its commit, so it does not wait for the flush; the setting dies with
    that transaction."""
    source = make_source(tenant, name="Prometheus")
    drew = try_append(source, Event, "db-4", clock.now())
    assert drew.incident is None and drew.number is not None and drew.commit == "off"
    assert synchronous_commit() == "on"


@pytest.mark.postgres
def test_inside_a_callers_transaction_a_draw_leaves_the_commit_durable(source):
    """Inbound email, SMS and the sweeps ingest inside their own transaction, which goes on to write
    the incident: that commit must wait for the disk (found in review)."""
    assert post(source.integration_key, "db-3").status_code == 202  # open: the next one appends
    source = AlertSource.objects.get(pk=source.pk)
    with transaction.atomic():
        appended = try_append(source, Event, "db-3", clock.now())
        drew = try_append(source, Event, "db-4", clock.now())
        setting = synchronous_commit()
    assert appended.incident is not None and appended.commit is None
    assert drew.incident is None and drew.number is not None and drew.commit is None
    assert setting == "on"
