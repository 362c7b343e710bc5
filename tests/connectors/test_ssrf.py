"""Outbound requests refuse loopback, link-local, private and cloud-metadata addresses, checked
after DNS resolution (at save time for literal addresses, at send time for everything), unless
ALLOW_PRIVATE_TARGETS is set."""

import json

import pytest
import respx

from connectors import engine, services
from connectors.models import ConnectionInvocation
from ilert.errors import DomainError
from tests.alerts.factories import alert

from .factories import make_connection, make_connector


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://10.0.0.7/hook", "http://localhost/hook", "http://[::1]/hook",
                                 "file:///etc/passwd", "http://user:pw@example.com/"])
def test_private_literal_urls_are_refused_when_saved(tenant, url):
    with pytest.raises(DomainError) as excinfo:
        make_connector(tenant, "webhook", settings={"url": url})
    assert excinfo.value.field == "settings.url"


@pytest.mark.parametrize("host, address", [("internal.example.com", "10.1.2.3"),
                                           ("metadata.example.com", "169.254.169.254")])
def test_a_name_resolving_to_a_private_address_is_refused_when_sending(tenant, host, address):
    connection = make_connection(tenant, connector=make_connector(tenant, "webhook",
                                                                  settings={"url": f"https://{host}/hook"}))
    alert(connection.alert_source)
    with respx.mock() as mock:  # nothing may be sent: any request would fail this block
        engine.deliver_due()
        assert not mock.calls
    row = ConnectionInvocation.objects.get()
    assert row.status == "failed" and address in row.error and "refused" in row.error.lower()


def test_loopback_saved_by_a_self_hoster_is_refused_once_the_setting_is_off(tenant, settings, local_server):
    server = local_server()
    settings.ALLOW_PRIVATE_TARGETS = True
    connection = make_connection(tenant, connector=make_connector(tenant, "webhook", settings={"url": server.url}))
    settings.ALLOW_PRIVATE_TARGETS = False
    alert(connection.alert_source)
    engine.deliver_due()
    assert server.received == []
    assert ConnectionInvocation.objects.get().status == "failed"
    # the same with the setting on: self-hosters may reach their own network
    settings.ALLOW_PRIVATE_TARGETS = True
    alert(connection.alert_source, key="2")
    engine.deliver_due()
    assert len(server.received) == 1


def test_a_dns_answer_that_changes_to_loopback_is_refused_at_connect_time(tenant, dns, local_server):
    """DNS rebinding: the name looks public when checked, then answers 127.0.0.1. The socket is
    opened to the address vetted at connect time, so the request never reaches loopback."""
    server = local_server()
    port = server.url.rsplit(":", 1)[1]
    dns["rebind.example.com"] = ["93.184.216.34", "127.0.0.1"]
    connection = make_connection(tenant, connector=make_connector(
        tenant, "webhook", settings={"url": f"http://rebind.example.com:{port}/hook"}))
    alert(connection.alert_source)
    engine.deliver_due()
    assert server.received == []
    row = ConnectionInvocation.objects.get()
    assert row.status == "failed" and "127.0.0.1" in row.error


@pytest.mark.parametrize("kind, settings_, credentials", [
    ("teams", {}, {"webhook_url": "https://internal.example.com/webhook"}),
    ("azure_function", {"url": "https://metadata.example.com/api/x"}, {"function_key": "k" * 20}),
    ("jira", {"base_url": "https://internal.example.com", "email": "a@b.c"}, {"token": "t" * 20}),
])
def test_every_target_goes_through_the_guard(tenant, kind, settings_, credentials):
    connector = make_connector(tenant, kind, settings=settings_, credentials=credentials)
    params = {"project_key": "OPS"} if kind == "jira" else None
    alert(make_connection(tenant, connector=connector, params=params).alert_source)
    with respx.mock() as mock:
        engine.deliver_due()
        assert not mock.calls
    assert ConnectionInvocation.objects.get().status == "failed"


def test_the_connection_test_is_guarded_too(tenant):
    connector = make_connector(tenant, "webhook", settings={"url": "https://metadata.example.com/x"})
    outcome = services.test_connector(connector)
    assert not outcome.ok and "169.254.169.254" in outcome.message


def test_slack_api_and_google_token_endpoints_are_guarded(tenant, settings, service_account):
    settings.SLACK_API_URL = "http://127.0.0.1:9/api/"
    slack = make_connector(tenant, "slack")
    key = json.dumps({**service_account, "token_uri": "https://metadata.example.com/token"})
    gcp = make_connector(tenant, "gcp_function", settings={"url": "https://europe-west1-acme.cloudfunctions.net/f"},
                         credentials={"service_account_json": key})
    source = make_connection(tenant, connector=slack).alert_source
    make_connection(tenant, connector=gcp, source=source)
    alert(source)
    with respx.mock() as mock:
        engine.deliver_due()
        assert not mock.calls
    for row in ConnectionInvocation.objects.all():
        assert row.status == "failed" and "refused" in row.error.lower()
