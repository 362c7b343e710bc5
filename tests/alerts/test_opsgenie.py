"""Opsgenie-compatible Alert API under /integrations/opsgenie/ (create, close and acknowledge by
alias), with payloads that Alertmanager's Opsgenie integration really sent."""

import json
from pathlib import Path

import pytest
from django.test import Client

from alerts.models import Incident, IncidentLogEntry

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
    assert isinstance(body["took"], float) and body["requestId"]
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


def test_identifiers_are_ids_by_default_as_in_opsgenie(source):
    post(source, BASE, {"message": "m", "alias": "k"})
    assert post(source, f"{BASE}/k/close").status_code == 404  # "k" is no alert id
    assert Incident.objects.get().status == "PENDING"
    response = post(source, f"{BASE}/k/close?identifierType=name")
    assert response.status_code == 422 and "identifierType" in response.json()["errors"]
    assert post(source, f"{BASE}/{Incident.objects.get().pk}/close").status_code == 202
    assert Incident.objects.get().status == "RESOLVED"


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


# --- hostile input: 422 naming the field, never a 500, nothing changed ----------------------------

LONE = "\\ud800"  # in JSON text, a lone surrogate: it parses, but is no text


@pytest.mark.parametrize("path, body, field", [
    (BASE, '{"message": "LONE"}', "message"),
    (BASE, '{"message": "m", "alias": "LONE"}', "alias"),
    (BASE, '{"message": "m", "details": {"region": "LONE"}}', "details.region"),
    (BASE, '{"message": "m", "tags": ["ok", "LONE"]}', "tags[1]"),
    (BASE, '{"message": "m", "responders": [{"name": "LONE"}]}', "responders[0].name"),
    (f"{BASE}/k/close?identifierType=alias", '{"note": "LONE"}', "note"),
    (f"{BASE}/k/acknowledge?identifierType=alias", '{"user": "LONE"}', "user"),
    (f"{BASE}/k/notes?identifierType=alias", '{"note": "LONE"}', "note"),
    (f"{BASE}/k/tags?identifierType=alias", '{"tags": ["LONE"]}', "tags[0]"),
])
def test_a_lone_surrogate_anywhere_is_a_422_naming_the_field(source, path, body, field):
    post(source, BASE, {"message": "m", "alias": "k"})
    before = (Incident.objects.get().status, IncidentLogEntry.objects.count())
    response = post(source, path, body.replace("LONE", LONE))
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"] and response.json()["requestId"]
    assert (Incident.objects.get().status, IncidentLogEntry.objects.count()) == before


@pytest.mark.parametrize("body, field", [
    ({"message": 12345}, "message"),
    ({"message": "m", "alias": 7}, "alias"),
    ({"message": "m", "description": {"a": 1}}, "description"),
    ({"message": "m", "details": {"region": {"nested": "x"}}}, "details.region"),
    ({"message": "m", "details": {"count": 3}}, "details.count"),
    ({"message": "m", "tags": ["a", 1]}, "tags"),
    ({"message": "m", "entity": ["e"]}, "entity"),
    ({"message": "m", "user": True}, "user"),
    ({"message": "m", "actions": "restart"}, "actions"),
    ({"message": "m", "responders": {"type": "team"}}, "responders"),
])
def test_wrong_types_are_refused_not_coerced(source, body, field):
    response = post(source, BASE, body)
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize("path, body, field", [
    ("notes", {"note": ""}, "note"),
    ("notes", {"note": 5}, "note"),
    ("notes", {"note": "x" * 5001}, "note"),
    ("tags", {"tags": "db"}, "tags"),
    ("tags", {"tags": []}, "tags"),
    ("tags", {"tags": ["x" * 51]}, "tags"),
    ("tags", {"tags": [str(n) for n in range(21)]}, "tags"),
])
def test_notes_and_tags_are_checked_before_anything_changes(source, path, body, field):
    post(source, BASE, {"message": "m", "alias": "k"})
    before = IncidentLogEntry.objects.count()
    response = post(source, f"{BASE}/k/{path}?identifierType=alias", body)
    assert response.status_code == 422 and field in response.json()["errors"]
    assert IncidentLogEntry.objects.count() == before and "tags" not in Incident.objects.get().labels


def test_a_key_of_another_source_type_is_told_so_not_called_unknown(tenant):
    pagerduty = make_source(tenant, name="PagerDuty tools", integration_type="pagerduty")
    auth = {"HTTP_AUTHORIZATION": f"GenieKey {pagerduty.integration_key}"}
    for method, path in [("POST", BASE), ("POST", f"{BASE}/k/close?identifierType=alias"), ("GET", f"{BASE}/1")]:
        response = Client().generic(method, path, json.dumps({"message": "m"}), "application/json", **auth)
        assert response.status_code == 404, response.content
        message = response.json()["message"]
        assert message.startswith("A key only works on the endpoint of its own source type") and "PagerDuty" in message
    assert not Incident.objects.exists()


def test_every_path_and_method_under_the_prefix_answers_opsgenie_json(source):
    auth = {"HTTP_AUTHORIZATION": f"GenieKey {source.integration_key}"}
    client = Client()
    for method, path, status in [("DELETE", f"{BASE}/1", 405), ("PUT", BASE, 405), ("GET", f"{BASE}/1/close", 405),
                                 ("POST", f"{BASE}/1/snooze", 404), ("POST", f"{BASE}/1/escalate", 404),
                                 ("GET", "/integrations/opsgenie/v2/heartbeats", 404),
                                 ("GET", "/integrations/opsgenie/v1/incidents/", 404),
                                 ("GET", f"{BASE}/", 404), ("GET", f"{BASE}/requests/nope", 404),
                                 ("GET", f"{BASE}/1", 404)]:
        response = client.generic(method, path, **auth)
        assert response.status_code == status, (method, path, response.content)
        assert response["Content-Type"] == "application/json"
        assert {"message", "took", "requestId"} <= set(response.json()), (method, path)
    assert client.delete(f"{BASE}/1", **auth)["Allow"] == "GET"


def test_reads_have_their_own_rate_budget(source, settings):
    settings.INGEST_RATE_LIMIT = "2/minute"
    auth = {"HTTP_AUTHORIZATION": f"GenieKey {source.integration_key}"}
    assert post(source, BASE, {"message": "m", "alias": "k"}).status_code == 202
    reads = [Client().get(f"{BASE}/count", **auth).status_code for _ in range(3)]
    assert reads == [200, 200, 429]
    assert post(source, BASE, {"message": "m", "alias": "k"}).status_code == 202  # events are not used up


def test_whatever_a_read_asks_the_answer_is_never_a_5xx(source):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    post(source, BASE, {"message": "m", "alias": "k", "tags": ["db"]})
    auth = {"HTTP_AUTHORIZATION": f"GenieKey {source.integration_key}"}
    text = st.text(max_size=30)
    paths = st.sampled_from([BASE, f"{BASE}/count"]) | text.map(lambda t: f"{BASE}/{t}") | text.map(
        lambda t: f"{BASE}/requests/{t}")
    params = st.dictionaries(st.sampled_from(["query", "offset", "limit", "sort", "order", "identifierType"]), text)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(paths, params)
    def run(path, query):
        response = Client().get(path, query, **auth)
        assert response.status_code in (200, 404, 422), (path, query, response.content)
        assert {"took", "requestId"} <= set(response.json())

    run()


def test_an_alias_names_its_open_incident_else_the_latest_one(source):
    auth = {"HTTP_AUTHORIZATION": f"GenieKey {source.integration_key}"}
    for _ in range(3):  # three incidents with one key: a resolved incident never reopens
        post(source, BASE, {"message": "m", "alias": "k"})
        post(source, f"{BASE}/k/close?identifierType=alias")
    post(source, BASE, {"message": "m", "alias": "k"})
    newest_first = list(Incident.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert Client().get(f"{BASE}/k?identifierType=alias", **auth).json()["data"]["id"] == str(newest_first[0])
    post(source, f"{BASE}/k/close?identifierType=alias")
    assert Client().get(f"{BASE}/k?identifierType=alias", **auth).json()["data"]["id"] == str(newest_first[0])
    Incident.objects.filter(pk=newest_first[1]).update(status="PENDING", resolved_at=None)
    assert Client().get(f"{BASE}/k?identifierType=alias", **auth).json()["data"]["id"] == str(newest_first[1])
