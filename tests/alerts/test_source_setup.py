"""The alert source page shows, per integration type, exactly what to paste into the sending tool,
and its integration settings can be edited there. Every snippet it shows really works."""

import json
import re
import shlex
from html import unescape

import pytest
import yaml
from django.test import Client

from alerts.models import AlertSource, Incident

from .factories import make_source


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def page(client, source):
    response = client.get(f"/alert-sources/{source.pk}/")
    assert response.status_code == 200
    return unescape(response.content.decode())


def block(html, element_id):
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(pre|code|strong)>', html, re.S)
    assert match, f"#{element_id} missing"
    return match.group(1)


@pytest.mark.parametrize("kind, expected", [
    ("api", ["/api/events", '"integrationKey"']),
    ("pagerduty", ["/integrations/pagerduty/v2/enqueue", '"routing_key"', "pdpyras"]),
    ("opsgenie", ["/integrations/opsgenie/v2/alerts", "GenieKey", "identifierType=alias"]),
    ("alertmanager", ["webhook_configs:", "send_resolved: true", "/integrations/alertmanager/"]),
    ("grafana", ["type: webhook", "/integrations/grafana/"]),
    ("email", ["@testserver"]),
    ("sms", ["/integrations/twilio/sms", "no number"]),
    ("heartbeat", ["/api/heartbeats/", "waiting for the first ping"]),
])
def test_each_type_shows_its_own_setup(admin, tenant, kind, expected, settings):
    settings.INBOUND_EMAIL_DOMAIN = "testserver"
    source = make_source(tenant, integration_type=kind)
    html = page(logged_in(admin), source)
    assert source.integration_key in html
    for text in expected:
        assert text in html, (kind, text)


def test_the_shown_curl_commands_work(admin, tenant):
    client = logged_in(admin)
    for kind in ("api", "pagerduty", "opsgenie", "alertmanager"):
        source = make_source(tenant, integration_type=kind)
        command = block(page(client, source), "curl-snippet").split("\n\n")[0].replace("\\\n", " ")
        args = shlex.split(command)
        url = args[args.index("-X") + 2]
        headers = dict(h.split(": ", 1) for flag, h in zip(args, args[1:], strict=False) if flag == "-H")
        body = args[args.index("-d") + 1]
        extra = {"HTTP_AUTHORIZATION": headers["Authorization"]} if "Authorization" in headers else {}
        response = Client().post(url.replace("http://testserver", ""), body, content_type="application/json", **extra)
        assert response.status_code == 202, (kind, response.content)
        assert Incident.objects.filter(alert_source=source).count() == 1


def test_the_alertmanager_and_grafana_snippets_are_valid_yaml_with_the_key(admin, tenant):
    client = logged_in(admin)
    am = make_source(tenant, integration_type="alertmanager")
    receiver = yaml.safe_load(block(page(client, am), "alertmanager-yaml"))["receivers"][0]
    assert receiver["webhook_configs"][0]["url"].endswith(f"/integrations/alertmanager/{am.integration_key}")
    grafana = make_source(tenant, integration_type="grafana")
    contact = yaml.safe_load(block(page(client, grafana), "grafana-yaml"))["contactPoints"][0]["receivers"][0]
    assert contact["type"] == "webhook" and contact["settings"]["url"].endswith(grafana.integration_key)


def test_integration_settings_are_saved_through_the_services(admin, tenant):
    client = logged_in(admin)
    email = make_source(tenant, integration_type="email")
    client.post(f"/alert-sources/{email.pk}/integration-settings",
                {"key_regex": r"Host (\S+)", "resolve_regex": "^RECOVERY", "allowed_senders": "ops@example.com\n@corp.example"})
    email.refresh_from_db()
    assert email.options == {"key_regex": r"Host (\S+)", "resolve_regex": "^RECOVERY",
                             "allowed_senders": ["ops@example.com", "corp.example"]}
    heartbeat = make_source(tenant, integration_type="heartbeat")
    client.post(f"/alert-sources/{heartbeat.pk}/integration-settings",
                {"heartbeat_interval_seconds": "86400", "heartbeat_grace_seconds": "600"})
    heartbeat.refresh_from_db()
    assert (heartbeat.heartbeat_interval_seconds, heartbeat.heartbeat_grace_seconds) == (86400, 600)
    assert heartbeat.heartbeat_resolve_on_ping is False  # an unticked checkbox
    sms = make_source(tenant, integration_type="sms")
    response = client.post(f"/alert-sources/{sms.pk}/integration-settings", {"phone_number": "not a number"},
                           follow=True)
    assert "Not saved" in response.content.decode()
    assert AlertSource.objects.get(pk=sms.pk).options == {}
    client.post(f"/alert-sources/{sms.pk}/integration-settings",
                {"phone_number": "+1 415 555 2671", "allowed_senders": "+4915123456789"})
    assert AlertSource.objects.get(pk=sms.pk).options == {"phone_number": "+14155552671",
                                                          "allowed_senders": ["+4915123456789"]}
    assert "+14155552671" in page(client, sms)


def test_only_admins_change_integration_settings(responder, tenant):
    source = make_source(tenant, integration_type="email")
    response = logged_in(responder).post(f"/alert-sources/{source.pk}/integration-settings", {"key_regex": "x"})
    assert response.status_code == 403
    source.refresh_from_db()
    assert source.options == {}


def test_the_api_exposes_heartbeat_settings_and_checks_options(api, tenant):
    created = api.post("/api/v1/alert-sources", {"name": "Backup", "integration_type": "heartbeat",
                                                 "heartbeat_interval_seconds": 3600}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["heartbeat_interval_seconds"] == 3600 and created.json()["next_expected_at"] is None
    bad = api.post("/api/v1/alert-sources", {"name": "Mail", "integration_type": "email",
                                             "options": {"key_regex": "("}}, format="json")
    assert bad.status_code == 400 and "options" in json.dumps(bad.json())
