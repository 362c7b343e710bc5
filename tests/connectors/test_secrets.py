"""Secrets are encrypted at rest, write-only in the API, masked in the dashboard, kept out of
invocation summaries, and never logged: one round trip through the API, deliveries to every kind
of target over real HTTP, and the dashboard pages, with every log record captured at DEBUG."""

import json
import logging

import pytest
from botocore.awsrequest import AWSResponse
from django.test import Client

from connectors import engine
from connectors.models import ConnectionInvocation, Connector
from connectors.targets import aws_lambda
from tests.alerts.factories import make_source

from .factories import SECRET

SECRETS = {
    "webhook": SECRET,
    "jira": "jira-token-Zx81kLmN0pq",
    "slack_bot": "xoxb-9999-8888-botTOKENsecret",
    "slack_signing": "slack-signing-secret-f00dcafe",
    "teams_path": "teamsPathSecretQ7w8e9r0",
    "azure": "azure-key-J5k6l7m8n9",
    "aws": "aws-secret-access-key-Hh7Jj8Kk9",
    "aws_id": "AKIASECRETKEYID12345",
}


def fake_everything(request):
    path = request.path
    if path.startswith("/jira/rest/api/3/search/jql"):
        return 200, {"issues": []}
    if path == "/jira/rest/api/2/issue":
        return 201, {"id": "1", "key": "OPS-1"}
    if path == "/jira/rest/api/2/myself":
        return 200, {"displayName": "bot", "echo": request.headers.get("authorization")}
    if path.startswith("/slack/api/"):
        return 200, {"ok": True, "channel": "C1", "ts": "1.2", "team": "Acme", "user": "ilert"}
    if path == "/api/on-incident":  # an endpoint that echoes what it received, key included
        return 500, {"received_key": request.headers.get("x-functions-key")}
    return 200, "1"


class _Raw:
    def stream(self, **kwargs):
        yield b""


@pytest.fixture
def everything(local_server, settings, allow_private, monkeypatch):
    server = local_server(fake_everything)
    settings.SLACK_API_URL = server.url + "/slack/api/"
    original = aws_lambda._client

    def client(settings_, credentials):
        real = original(settings_, credentials)
        real.meta.events.register("before-send.lambda.Invoke",
                                  lambda request, **kw: AWSResponse(request.url, 202, {"x-amzn-RequestId": "r"}, _Raw()))
        return real

    monkeypatch.setattr(aws_lambda, "_client", client)
    return server


def test_no_secret_ever_leaves_through_the_api_the_dashboard_the_logs_or_the_summaries(
        everything, api, admin, tenant, caplog):
    caplog.set_level(logging.DEBUG)
    seen = []

    def call(method, path, payload=None):
        response = getattr(api, method)(path, payload, format="json")
        seen.append(response.content.decode())
        assert response.status_code < 300, (path, response.content)
        return response.json() if response.content else None

    base = everything.url
    connectors = [
        ("webhook", {"url": base + "/hook"}, {"signing_secrets": [SECRETS["webhook"]]}, {}),
        ("jira", {"base_url": base + "/jira", "email": "bot@acme.test"}, {"token": SECRETS["jira"]},
         {"project_key": "OPS"}),
        ("slack", {"mode": "bot", "default_channel": "#ops"},
         {"bot_token": SECRETS["slack_bot"], "signing_secret": SECRETS["slack_signing"]}, {}),
        ("teams", {}, {"webhook_url": f"{base}/webhookb2/{SECRETS['teams_path']}"}, {}),
        ("azure_function", {"url": base + "/api/on-incident"}, {"function_key": SECRETS["azure"]}, {}),
        ("aws_lambda", {"region": "eu-central-1", "function_name": "on-incident"},
         {"access_key_id": SECRETS["aws_id"], "secret_access_key": SECRETS["aws"]}, {}),
    ]
    source = make_source(tenant, name="Prometheus")
    for kind, settings_, credentials, params in connectors:
        created = call("post", "/api/v1/connectors",
                       {"kind": kind, "name": kind, "settings": settings_, "credentials": credentials})
        call("get", f"/api/v1/connectors/{created['id']}")
        call("patch", f"/api/v1/connectors/{created['id']}", {"name": f"{kind} connector", "credentials": {}})
        call("post", f"/api/v1/connectors/{created['id']}/test")
        call("post", "/api/v1/connections", {"alert_source": source.pk, "connector": created["id"], "params": params})
    call("get", "/api/v1/connectors")
    incident = call("post", "/api/v1/incidents", {"alert_source": source.pk, "summary": "db-1 down"})
    assert engine.deliver_due() == len(connectors)
    call("post", f"/api/v1/incidents/{incident['id']}/accept")
    engine.deliver_due()
    call("get", "/api/v1/connection-invocations", {"page_size": 100})
    call("get", f"/api/v1/incidents/{incident['id']}/timeline")
    for row in ConnectionInvocation.objects.all():
        call("get", f"/api/v1/connection-invocations/{row.pk}")

    browser = Client()
    browser.force_login(admin)
    pages = ["/connectors/", f"/incidents/{incident['id']}/", f"/panels/incidents/{incident['id']}/connectors",
             f"/panels/alert-sources/{source.pk}/connections"]
    pages += [f"/connectors/{c.pk}/" for c in Connector.objects.all()]
    pages += [f"/connections/{pk}/" for pk in ConnectionInvocation.objects.values_list("connection_id", flat=True)]
    for page in pages:
        response = browser.get(page)
        assert response.status_code == 200, page
        seen.append(response.content.decode())

    # the deliveries really happened, to every target, with the secrets where they belong
    statuses = dict(ConnectionInvocation.objects.filter(event="created").values_list("connection__connector__kind",
                                                                                     "status"))
    assert statuses == {"webhook": "succeeded", "jira": "succeeded", "slack": "succeeded", "teams": "succeeded",
                        "azure_function": "pending", "aws_lambda": "succeeded"}
    received = {r.path: r for r in everything.received}
    assert f"/webhookb2/{SECRETS['teams_path']}" in received
    assert received["/api/on-incident"].headers["x-functions-key"] == SECRETS["azure"]

    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "connector invocation" in logged  # the capture works
    stored = json.dumps(list(ConnectionInvocation.objects.values("summary", "error")))
    assert "received_key" in stored  # the echoing endpoint's answer is kept, redacted
    for name, secret in SECRETS.items():
        for text in seen:
            assert secret not in text, f"{name} appears in a response"
        assert secret not in logged, f"{name} appears in a log line"
        assert secret not in stored, f"{name} appears in an invocation summary"
        for connector in Connector.objects.all():
            assert secret not in connector.credentials_encrypted
