"""Set up a webhook connector and its connection in a real Chromium, open an incident, and see
the signed delivery arrive at a local HTTP server and show up on the incident page."""

import json

import pytest

from connectors.models import ConnectionInvocation
from tests.alerts.factories import make_source
from tests.connectors.fakes import FakeServer
from tests.connectors.test_webhook import verify_standard_webhook

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver(settings):
    settings.ALLOW_PRIVATE_TARGETS = True  # the webhook target is a local server on 127.0.0.1
    server = FakeServer(lambda request: (200, {"received": True})).start()
    yield server
    server.stop()


def test_a_webhook_connector_delivers_when_an_incident_opens(page, admin, tenant, receiver, live_server, settings):
    settings.SITE_URL = live_server.url
    source = make_source(tenant, name="Prometheus")
    login(page, admin.email, "correct horse battery")

    page.click("nav >> text=Connectors")
    page.click("#new-connector >> text=Webhook")
    page.fill("#connector-form input[name=name]", "Automation hook")
    page.fill("#connector-form input[name=url]", receiver.url + "/ilert")
    page.click("#connector-form button[type=submit]")
    secret = page.inner_text("#secret-value").strip()
    assert secret.startswith("whsec_")

    page.goto(f"/alert-sources/{source.pk}/")
    page.select_option("#add-connection select[name=connector]", label="Automation hook (Webhook)")
    page.click("#add-connection button[type=submit]")
    page.check("input[name=events][value=created]")
    page.click("#connection-form button[type=submit]")
    page.wait_for_url("**/connections/*/")

    page.goto(f"/alert-sources/{source.pk}/")
    page.wait_for_selector("#connections-panel >> text=Automation hook")
    page.click("#send-test-event")
    page.wait_for_url("**/incidents/*/")
    page.wait_for_selector("#connector-panel [data-status=succeeded]")
    assert "Automation hook" in page.inner_text("#connector-panel")
    assert "Delivered (HTTP 200)" in page.inner_text("#timeline")

    (request,) = receiver.received
    assert request.path == "/ilert"
    assert verify_standard_webhook(secret, request.headers, request.body)
    body = json.loads(request.body)
    assert body["type"] == "incident.created" and body["data"]["incident"]["summary"].startswith("Test event")
    row = ConnectionInvocation.objects.get()
    assert request.headers["webhook-id"] == row.webhook_id and row.status == "succeeded"
