"""Opsgenie-compatible Alert API under /integrations/opsgenie/ (create, close and acknowledge by
alias), with payloads that Alertmanager's Opsgenie integration really sent."""

import json
from pathlib import Path

import pytest
from django.test import Client

from alerts.models import Incident

from .factories import make_source

PAYLOADS = Path(__file__).parent / "payloads" / "alertmanager"
BASE = "/integrations/opsgenie/v2/alerts"


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="Opsgenie tools", integration_type="opsgenie", default_priority="HIGH")


def post(source_or_key, path, body=None, **extra):
    key = getattr(source_or_key, "integration_key", source_or_key)
    headers = {"HTTP_AUTHORIZATION": f"GenieKey {key}"} if key else {}
    data = "" if body is None else (body if isinstance(body, str) else json.dumps(body))
    return Client().post(path, data, content_type="application/json", **headers, **extra)


def test_create_answers_like_opsgenie_and_close_by_alias_resolves(source):
    created = post(source, BASE, {"message": "Disk full", "alias": "db-1-disk", "description": "2% left",
                                  "priority": "P2", "tags": ["db", "prod"], "details": {"region": "eu"},
                                  "entity": "db-1", "source": "nagios"})
    assert created.status_code == 202, created.content
    body = created.json()
    assert body["result"] == "Request will be processed" and set(body) == {"result", "took", "requestId"}
    assert isinstance(body["took"], float) and len(body["requestId"]) == 36
    incident = Incident.objects.get()
    assert (incident.summary, incident.incident_key, incident.priority) == ("Disk full", "db-1-disk", "HIGH")
    assert incident.labels["entity"] == "db-1" and incident.labels["tags"] == "db, prod"
    assert incident.custom_details["region"] == "eu" and incident.details == "2% left"

    assert post(source, f"{BASE}/db-1-disk/acknowledge?identifierType=alias", {"user": "ops"}).status_code == 202
    incident.refresh_from_db()
    assert incident.status == "ACCEPTED"
    assert post(source, f"{BASE}/db-1-disk/close?identifierType=alias").status_code == 202
    incident.refresh_from_db()
    assert incident.status == "RESOLVED"


@pytest.mark.parametrize("priority, expected", [("P1", "HIGH"), ("P2", "HIGH"), ("P3", "LOW"), ("P5", "LOW"),
                                                (None, "HIGH")])
def test_priorities_map_p1_p2_to_high_and_the_rest_to_low(source, priority, expected):
    body = {"message": "m", **({"priority": priority} if priority else {})}
    assert post(source, BASE, body).status_code == 202
    assert Incident.objects.get().priority == expected


def test_alertmanagers_real_opsgenie_requests_work(source):
    create = json.loads((PAYLOADS / "opsgenie_create.json").read_text())
    close = json.loads((PAYLOADS / "opsgenie_close.json").read_text())
    assert create["headers"]["Authorization"].startswith("GenieKey ")
    assert post(source, create["path"], create["body"]).status_code == 202
    incident = Incident.objects.get()
    assert incident.summary.startswith("[FIRING:1] HighLatency") and incident.custom_details["alertname"] == "HighLatency"
    assert post(source, close["path"], close["body"]).status_code == 202
    incident.refresh_from_db()
    assert incident.status == "RESOLVED"


def test_long_aliases_still_close_the_incident_they_opened(source):
    alias = "a" * 400
    post(source, BASE, {"message": "m", "alias": alias})
    post(source, f"{BASE}/{alias}/close?identifierType=alias")
    assert Incident.objects.get().status == "RESOLVED"


def test_closing_an_unknown_alias_is_accepted_and_changes_nothing(source):
    assert post(source, f"{BASE}/nope/close?identifierType=alias").status_code == 202
    assert not Incident.objects.exists()


@pytest.mark.parametrize("body, field", [
    ({}, "message"),
    ({"message": "  "}, "message"),
    ({"message": ["x"]}, "message"),
    ({"message": "m", "priority": "P9"}, "priority"),
    ({"message": "m", "tags": "db"}, "tags"),
    ({"message": "m", "details": ["x"]}, "details"),
    ({"message": "m", "alias": "x" * 513}, "alias"),
])
def test_invalid_alerts_get_422_naming_the_field(source, body, field):
    response = post(source, BASE, body)
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"] and response.json()["requestId"]
    assert not Incident.objects.exists()


def test_only_alias_identifiers_are_supported(source):
    post(source, BASE, {"message": "m", "alias": "k"})
    response = post(source, f"{BASE}/k/close")
    assert response.status_code == 422 and "identifierType" in response.json()["errors"]
    assert Incident.objects.get().status == "PENDING"


def test_missing_or_unknown_keys_get_401(source):
    assert post(None, BASE, {"message": "m"}).status_code == 401
    assert post("x" * 43, BASE, {"message": "m"}).json()["message"] == "Could not authenticate"
    response = Client().post(BASE, json.dumps({"message": "m"}), content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {source.integration_key}")
    assert response.status_code == 401
    assert not Incident.objects.exists()


def test_rate_limited_requests_get_429(source, settings):
    settings.INGEST_RATE_LIMIT = "1/minute"
    assert post(source, BASE, {"message": "m", "alias": "k"}).status_code == 202
    limited = post(source, BASE, {"message": "m", "alias": "k"})
    assert limited.status_code == 429 and limited["Retry-After"]
    assert Incident.objects.get().event_count == 1
