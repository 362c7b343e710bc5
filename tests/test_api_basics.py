"""The API's shared behaviour: JSON errors for malformed input, body size cap, schema and docs."""

import pytest
from django.test import Client


def test_malformed_json_gets_a_400_with_a_json_error(api):
    response = api.generic("POST", "/api/v1/teams", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_wrong_types_get_a_400_naming_the_field(api):
    response = api.post("/api/v1/teams", {"name": ["a", "list"], "members": "nope"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) >= {"name", "members"}


def test_non_json_content_type_gets_415(api):
    response = api.generic("POST", "/api/v1/teams", "name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_oversized_bodies_get_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.generic("POST", "/api/v1/teams", '{"name": "%s"}' % ("x" * 2000), content_type="application/json")
    assert response.status_code == 413


def test_unknown_ids_get_404_json(api):
    for path in ("/api/v1/users/999999", "/api/v1/users/abc", "/api/v1/teams/0"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_the_openapi_schema_and_offline_docs_are_served(db):
    client = Client()
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/users" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower() and "/static/drf_spectacular_sidecar/" in html


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints(db, path):
    response = Client().get(path)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("value, status", [
    ("0709-07-06T05:58:23.1+20:43", 200),  # a real instant, once in UTC
    ("0001-01-01T00:00:00+05:00", 400),  # before year 1 in UTC
    ("9999-12-31T23:59:59-10:00", 400),  # after year 9999 in UTC
])
def test_odd_instants_in_date_filters_are_answered_not_crashed(api, value, status):
    # PostgreSQL refuses UTC offsets past ±15:59 ("time zone displacement out of range"); found by schemathesis.
    response = api.get("/api/v1/incidents", {"created_before": value})
    assert response.status_code == status, response.content


@pytest.mark.parametrize("path, params", [
    ("/api/v1/uptime-results", {"monitor": "99999999999999999999999"}),
    ("/api/v1/incidents", {"alert_source": "99999999999999999999999"}),
    ("/api/v1/incidents/99999999999999999999999", {}),
])
def test_ids_too_large_for_the_database_are_a_4xx(api, path, params):
    response = api.get(path, params)
    assert 400 <= response.status_code < 500, response.content
