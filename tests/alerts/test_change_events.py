"""PagerDuty change events: POST /integrations/pagerduty/v2/change/enqueue, driven by PagerDuty's own
client (pdpyras); nobody is paged, the change is listed in the API and shown beside the source's
incidents opened around it, and forgotten after 90 days."""

import json
from datetime import UTC, datetime, timedelta

import pdpyras
import pytest
import time_machine
from django.test import Client

from alerts import services
from alerts.models import ChangeEvent, Incident
from ilert import clock
from notifications.models import Notification

from .factories import alert, make_source

CHANGE = "/integrations/pagerduty/v2/change/enqueue"


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="Checkout", integration_type="pagerduty")


def post(body):
    return Client().post(CHANGE, body if isinstance(body, str) else json.dumps(body), content_type="application/json")


@pytest.mark.django_db(transaction=True)
def test_pagerdutys_own_client_sends_a_change_and_nobody_is_paged(source, live_server):
    session = pdpyras.ChangeEventsAPISession(source.integration_key)
    session.url = live_server.url + "/integrations/pagerduty"
    sent = (clock.now() - timedelta(days=2)).replace(microsecond=315000)
    change_id = session.submit("Deployed checkout v2.4.1", source="ci/checkout", custom_details={"build": 812},
                               links=[{"href": "https://ci.example.com/812", "text": "Build 812"}],
                               timestamp=sent.strftime("%Y-%m-%dT%H:%M:%S.315+0000"))
    change = ChangeEvent.objects.get()
    assert change_id == str(change.pk)
    assert (change.summary, change.source, change.alert_source_id) == ("Deployed checkout v2.4.1", "ci/checkout",
                                                                       source.pk)
    assert change.happened_at == sent and change.received_at > sent
    assert change.custom_details == {"build": 812}
    assert change.links == [{"href": "https://ci.example.com/812", "text": "Build 812"}]
    assert not Incident.objects.exists() and not Notification.objects.exists()


def test_the_answer_is_pagerdutys_and_a_missing_timestamp_means_now(source):
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False):
        response = post({"routing_key": source.integration_key, "payload": {"summary": "Rotated the DB password"}})
    assert response.status_code == 202
    body = response.json()
    assert body == {"status": "success", "message": "Change event processed", "id": body["id"]}
    assert ChangeEvent.objects.get(pk=body["id"]).happened_at == datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("body, error", [
    ({"payload": {"summary": "x"}}, "'routing_key' is missing or blank"),
    ({"routing_key": "KEY"}, "'payload' is missing or not an object"),
    ({"routing_key": "KEY", "payload": {"summary": "  "}}, "'payload.summary' is missing or blank"),
    ({"routing_key": "KEY", "payload": {"summary": "x" * 1025}}, "'payload.summary' is too long (maximum 1024 characters)"),
    ({"routing_key": "KEY", "payload": {"summary": "x", "timestamp": "yesterday"}},
     "'payload.timestamp' is not an ISO 8601 date and time"),
    ({"routing_key": "KEY", "payload": {"summary": "x", "timestamp": "2026-02-30T10:00:00Z"}},
     "'payload.timestamp' is not an ISO 8601 date and time"),
    ({"routing_key": "KEY", "payload": {"summary": "x", "timestamp": "9999-12-31T23:59:59-05:00"}},
     "'payload.timestamp' must be within the last 90 days"),
    ({"routing_key": "KEY", "payload": {"summary": "x", "timestamp": "0001-01-01T00:00:00+05:00"}},
     "'payload.timestamp' must be within the last 90 days"),
    ({"routing_key": "KEY", "payload": {"summary": "x", "custom_details": [1]}},
     "'payload.custom_details' must be an object"),
    ({"routing_key": "KEY", "payload": {"summary": "x", "source": {"a": 1}}}, "'payload.source' must be a string"),
    ({"routing_key": "KEY", "payload": {"summary": "x"}, "links": [{"text": "no href"}]},
     "'links[0].href' is missing or not a string"),
])
def test_invalid_change_events_get_400_with_pagerduty_errors_and_change_nothing(source, body, error):
    if body.get("routing_key") == "KEY":
        body["routing_key"] = source.integration_key
    response = post(body)
    assert response.status_code == 400
    assert response.json() == {"status": "invalid event", "message": "Event object is invalid", "errors": [error]}
    assert not ChangeEvent.objects.exists()


def test_unknown_keys_other_integration_types_and_disabled_sources_are_refused(tenant):
    assert post({"routing_key": "nope", "payload": {"summary": "x"}}).json()["errors"] == ["Invalid routing key"]
    event_api = make_source(tenant, integration_type="api")
    assert post({"routing_key": event_api.integration_key, "payload": {"summary": "x"}}).status_code == 404  # names its type
    disabled = make_source(tenant, integration_type="pagerduty", status="disabled")
    assert post({"routing_key": disabled.integration_key, "payload": {"summary": "x"}}).status_code == 403
    assert post("{nope").status_code == 400
    assert not ChangeEvent.objects.exists()


def test_rate_limited_changes_get_429(source, settings):
    settings.INGEST_RATE_LIMIT = "1/minute"
    body = {"routing_key": source.integration_key, "payload": {"summary": "Deploy"}}
    assert post(body).status_code == 202
    limited = post(body)
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert ChangeEvent.objects.count() == 1


def test_an_incident_shows_the_changes_of_its_source_around_it(source, tenant, admin):
    other = make_source(tenant, integration_type="pagerduty")
    opened = datetime(2026, 3, 1, 12, tzinfo=UTC)
    for summary, at, where in [("Deploy 5 h before", opened - timedelta(hours=5), source),
                               ("Deploy 1 h before", opened - timedelta(hours=1), source),
                               ("Config change of another service", opened - timedelta(minutes=5), other),
                               ("Rollback 10 min after", opened + timedelta(minutes=10), source)]:
        services.record_change(where, summary=summary, happened_at=at)
    with time_machine.travel(opened, tick=False):
        incident = alert(source, key="checkout-5xx").incident
    with time_machine.travel(opened + timedelta(minutes=30), tick=False):
        client = Client()
        client.force_login(admin)
        page = client.get(f"/incidents/{incident.pk}/").content.decode()
        source_page = client.get(f"/alert-sources/{source.pk}/").content.decode()
    assert "Deploy 1 h before" in page and "Rollback 10 min after" in page
    assert "Deploy 5 h before" not in page and "Config change of another service" not in page
    assert page.index("Rollback 10 min after") < page.index("Deploy 1 h before")  # newest first
    assert "Deploy 5 h before" in source_page and "/integrations/pagerduty/v2/change/enqueue" in source_page


def test_the_api_lists_changes_by_source_and_time(api, source, tenant):
    other = make_source(tenant, integration_type="pagerduty")
    services.record_change(source, summary="Old", happened_at=datetime(2026, 1, 1, tzinfo=UTC))
    services.record_change(source, summary="New", happened_at=datetime(2026, 2, 1, tzinfo=UTC))
    services.record_change(other, summary="Elsewhere", happened_at=datetime(2026, 2, 1, tzinfo=UTC))
    listed = api.get("/api/v1/change-events", {"alert_source": source.pk}).json()["results"]
    assert [c["summary"] for c in listed] == ["New", "Old"]
    recent = api.get("/api/v1/change-events", {"happened_after": "2026-01-15T00:00:00Z"}).json()["results"]
    assert {c["summary"] for c in recent} == {"New", "Elsewhere"}
    assert api.post("/api/v1/change-events", {"summary": "x"}, format="json").status_code == 405


def test_changes_older_than_90_days_are_forgotten(source):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    kept = services.record_change(source, summary="kept", happened_at=now - timedelta(days=89))
    services.record_change(source, summary="gone", happened_at=now - timedelta(days=91))
    assert services.prune_changes(now=now) == 1
    assert list(ChangeEvent.objects.values_list("pk", flat=True)) == [kept.pk]
