"""The iLert-compatible Event API: POST /api/events and /api/v1/events."""

import json

import pytest
from django.test import Client

from alerts.models import Incident

from .factories import make_source


def post(body, path="/api/events", **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return Client().post(path, data, content_type="application/json", **extra)


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="Prometheus")


def test_an_alert_answers_202_with_the_incident(source, settings):
    settings.SITE_URL = "https://ilert.example"
    response = post({
        "integrationKey": source.integration_key, "eventType": "ALERT", "summary": "db-1 down",
        "details": "ping failed", "alertKey": "db-1", "priority": "LOW",
        "images": [{"src": "https://img/x.png", "alt": "graph"}], "links": [{"href": "https://grafana/d/1", "text": "Dashboard"}],
        "customDetails": {"region": "eu"}, "labels": {"team": "db"},
    })
    assert response.status_code == 202, response.content
    body = response.json()
    incident = Incident.objects.get()
    assert body == {
        "alertKey": "db-1", "incidentId": incident.pk,
        "incidentUrl": f"https://ilert.example/incidents/{incident.pk}/", "responseCode": "NEW_INCIDENT_CREATED",
    }
    assert incident.priority == "LOW" and incident.labels == {"team": "db"} and incident.custom_details == {"region": "eu"}
    assert incident.links == [{"href": "https://grafana/d/1", "text": "Dashboard"}]
    assert incident.images == [{"src": "https://img/x.png", "alt": "graph"}]


def test_the_aliases_and_the_v1_path_work(source):
    response = post({"apiKey": source.integration_key, "eventType": "ALERT", "summary": "x", "incidentKey": "k"},
                    path="/api/v1/events")
    assert response.status_code == 202 and response.json()["alertKey"] == "k"


def test_the_response_codes_follow_the_incident(source):
    key = source.integration_key
    codes = [
        post({"integrationKey": key, "eventType": e, "summary": "s", "alertKey": "k"}).json()["responseCode"]
        for e in ("ALERT", "ALERT", "ACCEPT", "RESOLVE", "RESOLVE")
    ]
    assert codes == ["NEW_INCIDENT_CREATED", "EVENT_APPENDED", "INCIDENT_ACCEPTED", "INCIDENT_RESOLVED", "EVENT_IGNORED"]


@pytest.mark.parametrize("body, field", [
    ({"eventType": "ALERT", "summary": "x"}, "integrationKey"),
    ({"eventType": "PANIC", "summary": "x"}, "eventType"),
    ({"eventType": "ALERT"}, "summary"),
    ({"eventType": "ALERT", "summary": ["not", "text"]}, "summary"),
    ({"eventType": "ALERT", "summary": "x", "priority": "URGENT"}, "priority"),
    ({"eventType": "ALERT", "summary": "x", "customDetails": [1, 2]}, "customDetails"),
    ({"eventType": "ALERT", "summary": "x", "links": "http://x"}, "links"),
    ({"eventType": "ALERT", "summary": "x", "images": [{"alt": "no src"}]}, "images[0].src"),
    ({"eventType": "ALERT", "summary": "x", "alertKey": "k" * 300}, "alertKey"),
    ({"eventType": "RESOLVE"}, "incident_key"),
])
def test_malformed_events_get_400_naming_the_field_and_change_nothing(source, body, field):
    if field != "integrationKey":
        body = {"integrationKey": source.integration_key, **body}
    response = post(body)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "", "null", '"text"'])
def test_bodies_that_are_not_a_json_object_get_400(source, raw):
    response = post(raw)
    assert response.status_code == 400 and response.json()["message"]


def test_an_unknown_key_gets_404(db):
    response = post({"integrationKey": "x" * 43, "eventType": "ALERT", "summary": "x"})
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_disabled_source_gets_403(tenant):
    source = make_source(tenant, status="disabled")
    response = post({"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "x"})
    assert response.status_code == 403 and "disabled" in response.json()["message"]


def test_huge_bodies_get_413(source, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = post({"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "x" * 20_000})
    assert response.status_code == 413
    assert not Incident.objects.exists()


def test_over_the_rate_limit_events_get_429_with_retry_after(source, settings):
    settings.INGEST_RATE_LIMIT = "3/minute"
    body = {"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "x", "alertKey": "k"}
    assert [post(body).status_code for _ in range(3)] == [202, 202, 202]
    limited = post(body)
    assert limited.status_code == 429 and 0 < int(limited["Retry-After"]) <= 60
    assert Incident.objects.get().event_count == 3


def test_only_post_is_allowed(source):
    assert Client().get("/api/events").status_code == 405


def test_a_regenerated_key_replaces_the_old_one(source):
    from alerts import services

    old = source.integration_key
    services.regenerate_integration_key(source)
    assert post({"integrationKey": old, "eventType": "ALERT", "summary": "x"}).status_code == 404
    assert post({"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "x"}).status_code == 202
