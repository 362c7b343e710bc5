"""PostgreSQL (or SQLite) out of reach answers 503 with Retry-After, never a 500 page: JSON on the
REST API and every intake (so senders retry), a plain page on the dashboard. The shared server is
never touched: the test's own connection is pointed at a closed port for the requests."""

import json

import pytest
from django.db import connection
from django.test import Client

from alerts.models import Incident
from tests.alerts.factories import make_source
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


class Outage:
    """Makes the database unreachable for the requests of a test: the connection is closed and
    points at a port where nothing listens; `end()` points it back."""

    def __init__(self):
        self.saved = {name: connection.settings_dict[name] for name in ("HOST", "PORT", "NAME")}

    def __call__(self):
        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            pytest.skip("an in-memory SQLite test database stays open: it cannot be put out of reach")
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = "/nonexistent/dir/db.sqlite3"

    def end(self):
        connection.close()
        connection.settings_dict.update(self.saved)


@pytest.fixture
def database_down():
    outage = Outage()
    yield outage
    outage.end()  # before the test database is cleaned


def requests(tenant, admin):
    sources = {kind: make_source(tenant, integration_type=kind) for kind in ("api", "heartbeat", "pagerduty")}
    api = client_for(admin)
    return [
        ("event api", lambda c: c.post("/api/events", json.dumps({
            "integrationKey": sources["api"].integration_key, "eventType": "ALERT", "summary": "s"}),
            content_type="application/json")),
        ("heartbeat", lambda c: c.get(f"/api/heartbeats/{sources['heartbeat'].integration_key}")),
        ("pagerduty", lambda c: c.post("/integrations/pagerduty/v2/enqueue", json.dumps({
            "routing_key": sources["pagerduty"].integration_key, "event_action": "trigger",
            "payload": {"summary": "s", "source": "h", "severity": "info"}}), content_type="application/json")),
        ("alertmanager", lambda c: c.post("/integrations/alertmanager/some-key", json.dumps({"alerts": []}),
                                          content_type="application/json")),
        ("rest api", lambda c: api.get("/api/v1/incidents")),
    ]


def test_the_api_and_every_intake_answer_json_503_with_retry_after(tenant, admin, database_down):
    calls = requests(tenant, admin)
    database_down()
    for name, call in calls:
        response = call(Client())
        assert response.status_code == 503, (name, response.content[:200])
        assert response["Content-Type"] == "application/json", name
        assert response.json()["code"] == "database_unavailable"
        assert int(response["Retry-After"]) > 0


def test_the_dashboard_answers_a_plain_503_page(tenant, admin, database_down):
    browser = Client(raise_request_exception=False)  # the session is loaded in a middleware
    browser.force_login(admin)
    database_down()
    response = browser.get("/incidents/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html") and b"Temporarily unavailable" in response.content
    assert int(response["Retry-After"]) > 0


def test_after_the_outage_the_same_request_is_stored(tenant, database_down):
    source = make_source(tenant, integration_type="api")
    body = json.dumps({"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "s"})
    database_down()
    assert Client().post("/api/events", body, content_type="application/json").status_code == 503
    database_down.end()
    assert Client().post("/api/events", body, content_type="application/json").status_code == 202
    assert Incident.objects.count() == 1
