"""REST API: /connectors (write-only credentials), /connections, /connection-invocations, run now
and retry."""

import httpx
import pytest
import respx

from connectors import engine
from connectors.models import ConnectionInvocation, Connector
from tests.alerts.factories import alert, make_source

from .factories import SECRET, make_connection, make_connector

URL = "https://hooks.example.com/ilert"


def test_admins_create_connectors_and_never_get_credentials_back(api):
    response = api.post("/api/v1/connectors", {
        "kind": "jira", "name": "Jira Cloud",
        "settings": {"base_url": "https://acme.atlassian.net", "email": "bot@acme.test"},
        "credentials": {"token": "very-secret-jira-token"},
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["credentials_set"] == ["token"] and "credentials" not in body
    assert body["settings"] == {"base_url": "https://acme.atlassian.net", "deployment": "cloud", "email": "bot@acme.test"}
    assert "very-secret-jira-token" not in response.content.decode()
    connector = Connector.objects.get()
    assert connector.credentials == {"token": "very-secret-jira-token"}
    assert "very-secret-jira-token" not in connector.credentials_encrypted

    # an update without credentials keeps them; one with a value replaces it
    patched = api.patch(f"/api/v1/connectors/{connector.pk}", {"name": "Jira", "credentials": {"token": ""}},
                        format="json")
    assert patched.status_code == 200 and patched.json()["name"] == "Jira"
    connector.refresh_from_db()
    assert connector.credentials == {"token": "very-secret-jira-token"}
    api.patch(f"/api/v1/connectors/{connector.pk}", {"credentials": {"token": "rotated-token"}}, format="json")
    connector.refresh_from_db()
    assert connector.credentials == {"token": "rotated-token"}
    listing = api.get("/api/v1/connectors").content.decode()
    assert "rotated-token" not in listing and "very-secret" not in listing


def test_a_generated_webhook_secret_is_shown_once(api):
    created = api.post("/api/v1/connectors", {"kind": "webhook", "name": "Hook", "settings": {"url": URL}},
                       format="json").json()
    secret = created["generated_signing_secret"]
    assert secret.startswith("whsec_")
    again = api.get(f"/api/v1/connectors/{created['id']}").json()
    assert "generated_signing_secret" not in again and secret not in str(again)
    assert again["credentials_set"] == ["signing_secrets"]


@pytest.mark.parametrize("payload, field", [
    ({"kind": "carrier-pigeon", "name": "x"}, "kind"),
    ({"kind": "webhook", "name": ""}, "name"),
    ({"kind": "webhook", "name": "x", "settings": {}}, "settings.url"),
    ({"kind": "webhook", "name": "x", "settings": {"url": "ftp://x"}}, "settings.url"),
    ({"kind": "webhook", "name": "x", "settings": {"url": URL, "colour": "red"}}, "settings.colour"),
    ({"kind": "webhook", "name": "x", "settings": {"url": URL}, "credentials": {"signing_secrets": ["nope"]}},
     "credentials.signing_secrets"),
    ({"kind": "jira", "name": "x", "settings": {"base_url": "https://acme.atlassian.net"}, "credentials": {}},
     "credentials.token"),
    ({"kind": "slack", "name": "x", "settings": {"mode": "bot"}, "credentials": {}}, "credentials.bot_token"),
    ({"kind": "aws_lambda", "name": "x", "settings": {"region": "mars-1", "function_name": "f"},
      "credentials": {"access_key_id": "a", "secret_access_key": "b"}}, "settings.region"),
    ({"kind": "webhook", "name": "x", "settings": "nope"}, "settings"),
])
def test_bad_connector_input_gets_400_naming_the_field(api, payload, field):
    response = api.post("/api/v1/connectors", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not Connector.objects.exists()


def test_responders_read_connectors_but_cannot_manage_them(responder_api, tenant):
    connector = make_connector(tenant)
    assert responder_api.get(f"/api/v1/connectors/{connector.pk}").status_code == 200
    assert responder_api.post("/api/v1/connectors", {"kind": "webhook", "name": "x"}, format="json").status_code == 403
    assert responder_api.delete(f"/api/v1/connectors/{connector.pk}").status_code == 403
    assert responder_api.post(f"/api/v1/connectors/{connector.pk}/test").status_code == 403


def test_connections_are_created_on_an_alert_source_and_validated(api, tenant, outsider):
    connector = make_connector(tenant, "jira")
    source = make_source(tenant)
    response = api.post("/api/v1/connections", {
        "alert_source": source.pk, "connector": connector.pk, "events": ["created", "resolved"],
        "params": {"project_key": "OPS"},
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["action"] == "create_issue" and body["trigger_mode"] == "automatic"
    assert body["params"]["project_key"] == "OPS" and body["params"]["issue_type"] == "Task"
    bad = [
        ({"events": ["exploded"]}, "events"),
        ({"params": {}}, "params.project_key"),
        ({"action": "delete_everything"}, "action"),
        ({"params": {"project_key": "OPS", "summary_template": "{% if %}"}}, "params.summary_template"),
        ({"connector": make_connector(outsider.tenant).pk}, "connector"),
    ]
    for change, field in bad:
        payload = {"alert_source": source.pk, "connector": connector.pk, "params": {"project_key": "OPS"}, **change}
        answer = api.post("/api/v1/connections", payload, format="json")
        assert answer.status_code == 400 and field in answer.json()["fields"], (change, answer.content)
    patched = api.patch(f"/api/v1/connections/{body['id']}", {"trigger_mode": "manual", "events": []}, format="json")
    assert patched.status_code == 200 and patched.json()["trigger_mode"] == "manual"


def test_run_now_and_retry_through_the_api(responder_api, tenant):
    connection = make_connection(tenant, trigger_mode="manual", events=[])
    incident = alert(connection.alert_source).incident
    assert not ConnectionInvocation.objects.exists()
    run = responder_api.post(f"/api/v1/connections/{connection.pk}/run", {"incident": incident.pk}, format="json")
    assert run.status_code == 202, run.content
    assert run.json()["event"] == "manual" and run.json()["status"] == "pending"
    with respx.mock() as mock:
        mock.post(URL).mock(side_effect=[httpx.Response(410), httpx.Response(200)])
        engine.deliver_due()
        listed = responder_api.get("/api/v1/connection-invocations", {"incident": incident.pk}).json()["results"]
        assert [row["status"] for row in listed] == ["failed"] and listed[0]["http_status"] == 410
        webhook_id = listed[0]["webhook_id"]
        retried = responder_api.post(f"/api/v1/connection-invocations/{listed[0]['id']}/retry")
        assert retried.status_code == 202 and retried.json()["status"] == "pending"
        engine.deliver_due()
        assert mock.calls[1].request.headers["webhook-id"] == webhook_id
    per_connection = responder_api.get(f"/api/v1/connections/{connection.pk}/invocations").json()["results"]
    assert [row["status"] for row in per_connection] == ["succeeded"] and per_connection[0]["attempts"] == 2
    again = responder_api.post(f"/api/v1/connection-invocations/{listed[0]['id']}/retry")
    assert again.status_code == 409


def test_run_now_refuses_an_incident_of_another_source(api, tenant):
    connection = make_connection(tenant)
    other = alert(make_source(tenant)).incident
    response = api.post(f"/api/v1/connections/{connection.pk}/run", {"incident": other.pk}, format="json")
    assert response.status_code == 400 and "incident" in response.json()["fields"]


def test_stakeholders_cannot_run_or_retry(stakeholder_api, tenant):
    connection = make_connection(tenant)
    incident = alert(connection.alert_source).incident
    row = ConnectionInvocation.objects.get()
    assert stakeholder_api.post(f"/api/v1/connections/{connection.pk}/run", {"incident": incident.pk},
                                format="json").status_code == 403
    assert stakeholder_api.post(f"/api/v1/connection-invocations/{row.pk}/retry").status_code == 403
    assert stakeholder_api.get(f"/api/v1/connection-invocations/{row.pk}").status_code == 200


def test_the_test_endpoint_reports_the_outcome(api, tenant):
    connector = make_connector(tenant, credentials={"signing_secrets": [SECRET]})
    with respx.mock() as mock:
        mock.post(URL).respond(500)
        body = api.post(f"/api/v1/connectors/{connector.pk}/test").json()
        assert mock.calls[0].request.headers["webhook-id"].startswith("msg_test_")
    assert body == {"ok": False, "message": "Webhook: HTTP 500 Internal Server Error", "http_status": 500}


def test_the_schema_documents_the_resources(api):
    schema = api.get("/api/schema/").content.decode()
    for path in ("/api/v1/connectors", "/api/v1/connections/{id}/run", "/api/v1/connection-invocations/{id}/retry"):
        assert path in schema
