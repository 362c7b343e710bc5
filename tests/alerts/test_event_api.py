"""The iLert-compatible Event API: POST /api/events and /api/v1/events."""

import json

import pytest
from django.test import Client

from alerts.models import Incident

from .factories import make_source

HOST = {"fast": "127.0.0.1", "full": "testserver"}  # one of our hosts (alerts.fastpath), and the test client's
_route = {"host": HOST["fast"]}


@pytest.fixture(autouse=True, params=["fast", "full"])
def route(request, monkeypatch):
    """Every test runs through the fast path (alerts.fastpath, our hosts) and through the whole
    middleware (a host that is not ours): the answers must be the same."""
    monkeypatch.setitem(_route, "host", HOST[request.param])
    return request.param


def post(body, path="/api/events", **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return Client(HTTP_HOST=_route["host"]).post(path, data, content_type="application/json", **extra)


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


def _with_summary(summary_json, encoding="utf-8"):
    def body(key):
        text = f'{{"integrationKey": "{key}", "eventType": "ALERT", "alertKey": "k", "summary": "{summary_json}"}}'
        return text.encode(encoding, "surrogatepass")
    return body


@pytest.mark.parametrize("body", [
    _with_summary("\\ud800"),  # the escape
    _with_summary("\ud800"),  # UTF-8 bytes ED A0 80, which json.loads lets through
    _with_summary("\\ud800", "utf-16-le"),  # the escape in UTF-16: no single backslash byte
    _with_summary("\ud800", "utf-16-le"),
    _with_summary("\ud800", "utf-32-be"),
], ids=["escaped", "utf-8 bytes", "utf-16 escaped", "utf-16 unit", "utf-32 unit"])
def test_a_lone_surrogate_however_written_gets_400_and_changes_nothing(source, body):
    response = post(body(source.integration_key))
    assert response.status_code == 400 and list(response.json()["fields"]) == ["summary"]
    assert not Incident.objects.exists()


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
    assert Client(HTTP_HOST=_route["host"]).get("/api/events").status_code == 405


def test_a_regenerated_key_replaces_the_old_one(source):
    from alerts import services

    old = source.integration_key
    services.regenerate_integration_key(source)
    assert post({"integrationKey": old, "eventType": "ALERT", "summary": "x"}).status_code == 404
    assert post({"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "x"}).status_code == 202


def test_events_on_our_hosts_skip_url_resolving_and_the_rest_of_the_middleware(source, monkeypatch, route):
    if route != "fast":
        pytest.skip("one run is enough")
    """alerts.fastpath answers them; a host that is not ours (a status page's custom domain) goes
    the usual way."""
    from django.urls.resolvers import URLResolver

    from ilert import tenancy as tenancy_module

    resolved, tenancy = [], []
    real, real_tenant_of = URLResolver.resolve, tenancy_module.tenant_of
    monkeypatch.setattr(URLResolver, "resolve", lambda self, path: resolved.append(path) or real(self, path))
    monkeypatch.setattr(tenancy_module, "tenant_of", lambda request: tenancy.append(1) or real_tenant_of(request))
    event = {"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "disk full"}
    for path in ("/api/events", "/api/v1/events"):
        response = Client(HTTP_HOST=HOST["fast"]).post(path, json.dumps(event), content_type="application/json")
        assert response.status_code == 202
    assert resolved == [] and tenancy == []
    response = Client(HTTP_HOST=HOST["full"]).post("/api/events", json.dumps(event), content_type="application/json")
    assert response.status_code == 202
    assert resolved and tenancy


def test_the_fast_path_answers_with_the_headers_of_the_long_way(source, route):
    """Sized (an HTTP/1.1 answer without Content-Length goes out chunked) and with the same
    security headers; only what the skipped middleware adds for pages is missing (Vary: Cookie from
    sessions, X-Frame-Options, which the CSP's frame-ancestors says as well)."""
    if route != "fast":
        pytest.skip("one run is enough")
    event = json.dumps({"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "disk full"})
    for body in (event, "{"):  # an accepted event and a refused one
        fast, full = (Client(HTTP_HOST=HOST[way]).post("/api/events", body, content_type="application/json")
                      for way in ("fast", "full"))
        assert fast.status_code == full.status_code
        assert fast.headers["Content-Length"] == str(len(fast.content))
        assert dict(fast.headers) == {k: v for k, v in full.headers.items() if k not in ("Vary", "X-Frame-Options")}
