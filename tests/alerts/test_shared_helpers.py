"""What the inbound integrations share: one rate limit answered one way on every ingest path,
one way to shorten long incident keys, and one incident URL."""

import hashlib
import json

import pytest
from django.test import Client

from alerts import selectors
from alerts.integrations import base
from alerts.integrations.email import address_for
from alerts.models import Incident
from tests.notifications.fakes import platform_twilio

from . import test_email, test_sms
from .factories import alert, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_event_a_minute(settings):
    settings.INGEST_RATE_LIMIT = "1/minute"
    settings.INBOUND_EMAIL_DOMAIN = test_email.DOMAIN
    settings.ANYMAIL = {"WEBHOOK_SECRET": test_email.SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": test_email.SIGNING_KEY}
    with platform_twilio(settings, test_sms.NUMBER, token=test_sms.TOKEN):  # owns the SMS source's number
        yield


def event_api(tenant):
    source = make_source(tenant, integration_type="api")
    body = json.dumps({"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "x", "alertKey": "k"})
    return lambda: Client().post("/api/events", body, content_type="application/json")


def pagerduty(tenant):
    source = make_source(tenant, integration_type="pagerduty")
    body = json.dumps({"routing_key": source.integration_key, "event_action": "trigger", "dedup_key": "k",
                       "payload": {"summary": "x", "source": "db-1", "severity": "critical"}})
    return lambda: Client().post("/integrations/pagerduty/v2/enqueue", body, content_type="application/json")


def heartbeat(tenant):
    source = make_source(tenant, integration_type="heartbeat")
    return lambda: Client().get(f"/api/heartbeats/{source.integration_key}")


def sms(tenant):
    make_source(tenant, integration_type="sms", options={"phone_number": test_sms.NUMBER, "allowed_senders": "*"})
    return lambda: test_sms.send(test_sms.params())


def email(tenant):
    source = make_source(tenant, integration_type="email")
    return lambda: test_email.mailgun(address_for(source))


@pytest.mark.parametrize("path", [event_api, pagerduty, heartbeat, sms, email])
def test_every_ingest_path_answers_the_rate_limit_the_same_way(tenant, path):
    send = path(tenant)
    assert send().status_code in (200, 202)
    limited = send()
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    body = limited.json()
    if path is pagerduty:  # PagerDuty's clients expect PagerDuty's own error body
        assert body["status"] == "throttle exceeded"
    else:
        assert body["code"] == "rate_limited" and f"retry in {limited['Retry-After']} s" in body["message"]


def test_long_keys_are_shortened_the_same_way_by_every_integration(tenant):
    long = "x" * 300
    assert base.short_key("short") == "short"
    assert base.short_key(long) == "sha256:" + hashlib.sha256(long.encode()).hexdigest()
    assert len(base.short_key("y" * 100_000)) == 71

    opsgenie = make_source(tenant, integration_type="opsgenie")
    response = Client().post("/integrations/opsgenie/v2/alerts", json.dumps({"message": "Disk", "alias": f" {long} "}),
                             content_type="application/json", HTTP_AUTHORIZATION=f"GenieKey {opsgenie.integration_key}")
    assert response.status_code == 202
    assert Incident.objects.get(alert_source=opsgenie).incident_key == base.short_key(long)

    alertmanager = make_source(tenant, integration_type="alertmanager", options={"group_by": "groupKey"})
    notification = {"version": "4", "status": "firing", "receiver": "ilert", "groupKey": long, "groupLabels": {},
                    "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
                    "alerts": [{"status": "firing", "labels": {"alertname": "Disk"}, "annotations": {},
                                "startsAt": "2026-03-01T12:00:00Z", "fingerprint": "abc"}]}
    response = Client().post(f"/integrations/alertmanager/{alertmanager.integration_key}", json.dumps(notification),
                             content_type="application/json")
    assert response.status_code == 202, response.content
    assert Incident.objects.get(alert_source=alertmanager).incident_key == base.short_key(long)


def test_the_incident_url_is_the_same_everywhere(tenant, api, settings):
    settings.SITE_URL = "https://ilert.example"
    incident = alert(make_source(tenant)).incident
    assert selectors.incident_url(incident) == f"https://ilert.example/incidents/{incident.pk}/"
    assert api.get(f"/api/v1/incidents/{incident.pk}").json()["url"] == selectors.incident_url(incident)
    source = make_source(tenant, integration_type="api")
    response = Client().post("/api/events", json.dumps({"integrationKey": source.integration_key, "eventType": "ALERT",
                                                        "summary": "x"}), content_type="application/json")
    created = Incident.objects.get(pk=response.json()["incidentId"])
    assert response.json()["incidentUrl"] == selectors.incident_url(created)


def test_incidents_are_not_looked_up_by_number_outside_the_api_filter():
    assert not hasattr(selectors, "get_incident_by_number")
