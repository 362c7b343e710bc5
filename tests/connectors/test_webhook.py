"""Webhook target: Standard Webhooks signatures checked by implementations that are not ours (a
hand-written one here, and the `standardwebhooks` package), a stable webhook-id, sandboxed bodies."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest
import respx
import time_machine
from standardwebhooks import Webhook as StandardWebhook

from connectors import engine, services
from connectors.models import ConnectionInvocation
from ilert import clock
from ilert.errors import DomainError
from tests.alerts.factories import alert, make_source

from .factories import SECRET, make_connection, make_connector

URL = "https://hooks.example.com/ilert"
SECOND = "whsec_" + base64.b64encode(b"another-secret-for-rotation!").decode()


def verify_standard_webhook(secret, headers, body):
    """An independent implementation of the Standard Webhooks check, written from the spec:
    HMAC-SHA256 over "id.timestamp.body" with the base64-decoded secret, any v1 signature matches."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


@pytest.fixture
def hook(tenant):
    connector = make_connector(tenant, "webhook", name="Automation",
                               credentials={"signing_secrets": [SECRET, SECOND]})
    source = make_source(tenant, name="Prometheus")
    return make_connection(tenant, connector=connector, source=source)


def test_a_delivery_is_signed_with_every_active_secret_and_verifies_independently(hook):
    incident = alert(hook.alert_source, "db-1 down", priority="HIGH").incident
    with respx.mock() as mock:
        mock.post(URL).respond(200, text="ok")
        assert engine.deliver_due() == 1
        sent = mock.calls[0].request
    headers = {k.lower(): v for k, v in sent.headers.items()}
    body = sent.content
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert abs(int(headers["webhook-timestamp"]) - clock.now().timestamp()) < 5
    for secret in (SECRET, SECOND):
        assert verify_standard_webhook(secret, headers, body)
        StandardWebhook(secret).verify(body, headers)  # a third implementation agrees
    assert not verify_standard_webhook(SECRET, {**headers, "webhook-id": "msg_forged"}, body)
    assert not verify_standard_webhook(SECRET, headers, body.replace(b"db-1", b"db-2"))

    payload = json.loads(body)
    assert payload["type"] == "incident.created"
    data = payload["data"]
    assert data["event"]["type"] == "created"
    assert data["incident"]["id"] == incident.pk and data["incident"]["number"] == incident.number
    assert data["incident"]["summary"] == "db-1 down" and data["incident"]["status"] == "PENDING"
    assert data["incident"]["priority"] == "HIGH" and data["incident"]["alert_source"]["name"] == "Prometheus"
    assert data["incident"]["url"].endswith(f"/incidents/{incident.pk}/")
    assert data["incident"]["api_url"].endswith(f"/api/v1/incidents/{incident.pk}")
    assert "assigned_to" in data["incident"]
    invocation = ConnectionInvocation.objects.get()
    assert invocation.status == "succeeded" and invocation.http_status == 200
    assert headers["webhook-id"] == invocation.webhook_id


def test_the_webhook_id_stays_the_same_across_retries_with_a_fresh_signature(hook):
    alert(hook.alert_source)
    with respx.mock() as mock:
        mock.post(URL).mock(side_effect=[httpx.Response(503), httpx.Response(204)])
        engine.deliver_due()
        invocation = ConnectionInvocation.objects.get()
        assert invocation.status == "pending" and invocation.attempts == 1
        with time_machine.travel(invocation.due_at + timedelta(seconds=1)):
            assert engine.deliver_due() == 1
        first, second = (call.request for call in mock.calls)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == invocation.webhook_id
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    assert first.content == second.content
    for request in (first, second):
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert verify_standard_webhook(SECRET, headers, request.content)
    invocation.refresh_from_db()
    assert invocation.status == "succeeded" and invocation.attempts == 2


def test_a_custom_body_is_rendered_from_a_sandboxed_template(tenant):
    template = '{"text": {{ ("#" ~ incident.number ~ " " ~ incident.summary)|json }}, "state": "{{ incident.status|lower }}", "event": "{{ event.type }}"}'
    connection = make_connection(tenant, params={"body_template": template})
    alert(connection.alert_source, 'quote " and <tag>')
    with respx.mock() as mock:
        mock.post(URL).respond(200)
        engine.deliver_due()
        body = json.loads(mock.calls[0].request.content)
    assert body == {"text": '#1 quote " and <tag>', "state": "pending", "event": "created"}


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ incident.__class__ }}{% for x in range(100000) %}{% endfor %}",
    '{"a": "{{ "x" * 100000000 }}"}',
    "{% for %}",
    "not json {{ incident.number }}",
])
def test_templates_that_break_the_sandbox_or_are_not_json_are_refused_when_saved(tenant, template):
    with pytest.raises(DomainError) as excinfo:
        make_connection(tenant, params={"body_template": template})
    assert excinfo.value.field == "params.body_template"


def test_a_webhook_connector_without_secrets_gets_one_generated_and_shown_once(tenant):
    connector = services.create_connector(tenant, kind="webhook", name="Hook", settings={"url": URL})
    assert connector.generated_secret.startswith("whsec_")
    assert connector.credentials["signing_secrets"] == [connector.generated_secret]
    assert connector.generated_secret not in connector.credentials_encrypted
