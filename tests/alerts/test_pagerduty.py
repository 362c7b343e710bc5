"""PagerDuty Events API v2 compatibility: POST /integrations/pagerduty/v2/enqueue, driven by
PagerDuty's own Python client (pdpyras) with nothing changed but its base URL."""

import json

import pdpyras
import pytest
from django.test import Client

from alerts.models import Incident, IncidentLogEntry

from .factories import make_source

ENQUEUE = "/integrations/pagerduty/v2/enqueue"


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="PagerDuty tools", integration_type="pagerduty", default_priority="LOW")


def post(body):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return Client().post(ENQUEUE, data, content_type="application/json")


@pytest.mark.django_db(transaction=True)
def test_pagerdutys_own_client_triggers_acknowledges_and_resolves(source, live_server):
    session = pdpyras.EventsAPISession(source.integration_key)
    session.url = live_server.url + "/integrations/pagerduty"

    key = session.trigger("Disk full on db-1", "db-1.example.com", dedup_key="db-1/disk", severity="critical",
                          custom_details={"free": "0%"}, links=[{"href": "https://grafana/d/1", "text": "Graph"}])
    assert key == "db-1/disk"
    incident = Incident.objects.get()
    assert (incident.summary, incident.priority, incident.incident_key) == ("Disk full on db-1", "HIGH", "db-1/disk")
    assert incident.custom_details == {"free": "0%"}
    assert incident.labels["source"] == "db-1.example.com" and incident.labels["severity"] == "critical"
    assert incident.links == [{"href": "https://grafana/d/1", "text": "Graph"}]

    assert session.trigger("Disk full on db-1", "db-1.example.com", dedup_key="db-1/disk") == "db-1/disk"
    assert session.acknowledge("db-1/disk") == "db-1/disk"
    incident.refresh_from_db()
    assert incident.status == "ACCEPTED" and incident.event_count == 2
    assert session.resolve("db-1/disk") == "db-1/disk"
    incident.refresh_from_db()
    assert incident.status == "RESOLVED"
    assert set(IncidentLogEntry.objects.filter(incident=incident).values_list("via", flat=True)) >= {"pagerduty"}

    generated = session.trigger("CPU hot", "web-2", severity="warning")
    assert len(generated) >= 16 and Incident.objects.get(incident_key=generated).priority == "LOW"


@pytest.mark.django_db(transaction=True)
def test_pagerdutys_client_sees_an_invalid_event_as_an_http_error(source, live_server):
    session = pdpyras.EventsAPISession(source.integration_key)
    session.url = live_server.url + "/integrations/pagerduty"
    with pytest.raises(pdpyras.PDHTTPError) as error:
        session.trigger("x", "host", severity="fatal")
    assert error.value.response.status_code == 400
    assert not Incident.objects.exists()


def test_the_answers_are_exactly_pagerdutys(source):
    ok = post({"routing_key": source.integration_key, "event_action": "trigger", "dedup_key": "k",
               "payload": {"summary": "s", "source": "h", "severity": "info"}})
    assert ok.status_code == 202
    assert ok.json() == {"status": "success", "message": "Event processed", "dedup_key": "k"}

    bad = post({"routing_key": source.integration_key, "event_action": "trigger", "payload": {"source": "h"}})
    assert bad.status_code == 400
    body = bad.json()
    assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert "'payload.summary' is missing or blank" in body["errors"]
    assert any("payload.severity" in e for e in body["errors"])
    assert set(body) == {"status", "message", "errors"}


@pytest.mark.parametrize("body, error", [
    ({"event_action": "explode"}, "'event_action' is invalid"),
    ({"event_action": "trigger"}, "'payload' is missing or not an object"),
    ({"event_action": "trigger", "payload": "text"}, "'payload' is missing or not an object"),
    ({"event_action": "resolve"}, "'dedup_key' is missing or blank"),
    ({"event_action": "acknowledge", "dedup_key": ""}, "'dedup_key' is missing or blank"),
    ({"event_action": "resolve", "dedup_key": "k" * 256}, "'dedup_key' is too long"),
    ({"event_action": "trigger", "payload": {"summary": ["x"], "source": "h", "severity": "info"}},
     "'payload.summary' must be a string"),
    ({"event_action": "trigger", "payload": {"summary": "s", "source": "h", "severity": "info"}, "links": "x"},
     "'links' must be an array"),
    ({"event_action": "trigger", "payload": {"summary": "s", "source": "h", "severity": "info"},
      "images": [{"alt": "no src"}]}, "'images[0].src'"),
])
def test_invalid_events_get_400_with_pagerduty_errors_and_change_nothing(source, body, error):
    response = post({"routing_key": source.integration_key, **body})
    assert response.status_code == 400, response.content
    assert any(e.startswith(error) for e in response.json()["errors"]), response.json()
    assert not Incident.objects.exists()


def test_an_unknown_or_missing_routing_key_is_invalid(db):
    unknown = post({"routing_key": "x" * 32, "event_action": "resolve", "dedup_key": "k"})
    assert unknown.status_code == 400 and unknown.json()["errors"] == ["Invalid routing key"]
    missing = post({"event_action": "resolve", "dedup_key": "k"})
    assert missing.status_code == 400 and missing.json()["errors"] == ["'routing_key' is missing or blank"]


def test_a_key_of_another_integration_type_is_told_which_type_it_has(tenant):
    """README: a key of another type gets 404 with a message naming the type (not "Invalid routing key",
    which would send its owner looking for a typo)."""
    other = make_source(tenant, integration_type="alertmanager")
    for path, body in ((ENQUEUE, {"event_action": "resolve", "dedup_key": "k"}),
                       ("/integrations/pagerduty/v2/change/enqueue", {"payload": {"summary": "Deployed"}})):
        response = Client().post(path, json.dumps({"routing_key": other.integration_key, **body}),
                                 content_type="application/json")
        assert response.status_code == 404, response.content
        (error,) = response.json()["errors"]
        assert "belongs to a Prometheus Alertmanager alert source" in error
        assert response.json()["status"] == "invalid event"  # still PagerDuty's shape
    assert not Incident.objects.exists()


def test_the_routing_key_may_come_in_a_header(source):
    response = Client().post(ENQUEUE, json.dumps({"event_action": "trigger", "payload": {
        "summary": "s", "source": "h", "severity": "error"}}), content_type="application/json",
        HTTP_X_ROUTING_KEY=source.integration_key)
    assert response.status_code == 202 and Incident.objects.get().priority == "HIGH"


def test_rate_limited_events_get_429_with_retry_after(source, settings):
    settings.INGEST_RATE_LIMIT = "2/minute"
    body = {"routing_key": source.integration_key, "event_action": "trigger", "dedup_key": "k",
            "payload": {"summary": "s", "source": "h", "severity": "info"}}
    assert [post(body).status_code for _ in range(2)] == [202, 202]
    limited = post(body)
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert limited.json()["status"] == "throttle exceeded"
    assert Incident.objects.get().event_count == 2


def test_a_disabled_source_changes_nothing(tenant):
    source = make_source(tenant, integration_type="pagerduty", status="disabled")
    response = post({"routing_key": source.integration_key, "event_action": "trigger",
                     "payload": {"summary": "s", "source": "h", "severity": "info"}})
    assert response.status_code == 403 and not Incident.objects.exists()
    assert response.json()["status"] == "invalid event"


def test_malformed_json_is_an_invalid_event(source):
    response = post("{nope")
    assert response.status_code == 400 and response.json()["status"] == "invalid event"
