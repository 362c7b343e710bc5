"""The ingest rate limit counts events, not requests: an Alertmanager or Grafana notification costs
as many events as it carries alerts, and one that does not fit the budget as a whole is refused whole
(429 with Retry-After), storing nothing."""

import copy
import json

import pytest
from django.test import Client

from alerts.models import Incident, IncidentLogEntry

from .factories import make_source

pytestmark = pytest.mark.django_db


def notification(count, *, grafana=False, prefix="a"):
    alerts = [{"status": "firing", "labels": {"alertname": "Disk", "instance": f"{prefix}{i}"}, "annotations": {},
               "fingerprint": f"{prefix}{i}"} for i in range(count)]
    body = {"version": "1" if grafana else "4", "status": "firing", "receiver": "ilert", "groupKey": "g",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "alerts": alerts}
    return copy.deepcopy(body)


def post(path, body):
    return Client().post(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def ten_a_minute(settings):
    settings.INGEST_RATE_LIMIT = "10/minute"


@pytest.mark.parametrize("kind", ["alertmanager", "grafana"])
def test_a_notification_costs_one_event_per_alert_and_one_that_does_not_fit_is_refused_whole(tenant, kind,
                                                                                              ten_a_minute):
    source = make_source(tenant, integration_type=kind)
    path = f"/integrations/{kind}/{source.integration_key}"
    grafana = kind == "grafana"

    assert post(path, notification(6, grafana=grafana, prefix="a")).status_code == 202
    assert Incident.objects.count() == 6
    entries = IncidentLogEntry.objects.count()

    refused = post(path, notification(6, grafana=grafana, prefix="b"))  # 6 + 6 > 10: none of it
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "carries 6 alerts" in refused.json()["message"] and "nothing was stored" in refused.json()["message"]
    assert Incident.objects.count() == 6 and IncidentLogEntry.objects.count() == entries

    assert post(path, notification(4, grafana=grafana, prefix="c")).status_code == 202  # exactly fills it
    assert Incident.objects.count() == 10
    assert post(path, notification(1, grafana=grafana, prefix="d")).status_code == 429


def test_the_budget_is_one_per_key_whatever_the_endpoint(tenant, ten_a_minute):
    """The Event API accepts every source type's key: its events and the notifications' alerts share it."""
    source = make_source(tenant, integration_type="alertmanager")
    assert post(f"/integrations/alertmanager/{source.integration_key}", notification(9)).status_code == 202
    event = {"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "one more"}
    assert post("/api/events", event).status_code == 202
    assert post("/api/events", event).status_code == 429
    assert Incident.objects.count() == 10


def test_a_notification_larger_than_the_whole_limit_is_told_it_can_never_fit(tenant, ten_a_minute):
    source = make_source(tenant, integration_type="alertmanager")
    refused = post(f"/integrations/alertmanager/{source.integration_key}", notification(11))
    assert refused.status_code == 429 and "never fit" in refused.json()["message"]
    assert not Incident.objects.exists()
    # nothing was counted: a small notification still goes through
    assert post(f"/integrations/alertmanager/{source.integration_key}", notification(10)).status_code == 202


def test_grouped_notifications_cost_the_one_event_they_store(tenant, ten_a_minute):
    source = make_source(tenant, integration_type="alertmanager", options={"group_by": "groupKey"})
    for _ in range(10):
        assert post(f"/integrations/alertmanager/{source.integration_key}", notification(50)).status_code == 202
    assert post(f"/integrations/alertmanager/{source.integration_key}", notification(50)).status_code == 429
    assert Incident.objects.get().event_count == 10
