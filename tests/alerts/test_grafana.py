"""Grafana webhook contact point: unified alerting (version "1") and legacy alerting (no version)."""

import copy
import json
from pathlib import Path

import pytest
from django.test import Client

from alerts import services
from alerts.models import Incident

from .factories import make_source

PAYLOADS = Path(__file__).parent / "payloads" / "grafana"
UNIFIED = json.loads((PAYLOADS / "unified_firing.json").read_text())
LEGACY = json.loads((PAYLOADS / "legacy_alerting.json").read_text())


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="Grafana", integration_type="grafana", default_priority="LOW")


def post(source, body, path=None, **extra):
    path = path or f"/integrations/grafana/{source.integration_key}"
    return Client().post(path, json.dumps(body), content_type="application/json", **extra)


def resolved(body):
    body = copy.deepcopy(body)
    body["status"] = "resolved"
    for alert in body["alerts"]:
        alert["status"] = "resolved"
    return body


def test_unified_alerts_open_one_incident_per_fingerprint_with_links_and_values(source):
    response = post(source, UNIFIED)
    assert response.status_code == 202, response.content
    assert [r["responseCode"] for r in response.json()["alerts"]] == ["NEW_INCIDENT_CREATED"] * 2
    web1 = Incident.objects.get(incident_key="c6eadffa33fcdf37")
    assert web1.summary == "web-1 is running out of memory" and web1.priority == "HIGH"
    assert web1.custom_details["values"] == {"B": 91.2, "C": 1}
    assert {link["text"] for link in web1.links} == {"Source", "Runbook", "Dashboard", "Panel", "Silence"}
    assert web1.images == [{"src": "https://grafana.example/render/mem.png", "alt": web1.summary}]
    assert "Memory above 90%" in web1.details and "var='B'" in web1.details
    web2 = Incident.objects.get(incident_key="d7fbe00b44adea48")
    assert web2.summary == "High memory usage on web-2" and web2.priority == "LOW"


def test_unified_resolved_alerts_resolve(source):
    post(source, UNIFIED)
    assert post(source, resolved(UNIFIED)).status_code == 202
    assert set(Incident.objects.values_list("status", flat=True)) == {"RESOLVED"}


def test_unified_group_option_uses_the_title_as_summary(source):
    services.update_alert_source(source, options={"group_by": "groupKey"})
    post(source, UNIFIED)
    incident = Incident.objects.get()
    assert incident.summary == "[FIRING:2] High memory usage Infra (blue)" and incident.details.startswith("**Firing**")
    post(source, resolved(UNIFIED))
    incident.refresh_from_db()
    assert incident.status == "RESOLVED"


def test_legacy_alerting_then_ok_opens_and_resolves_one_incident_per_rule(source):
    response = post(source, LEGACY)
    assert response.status_code == 202, response.content
    incident = Incident.objects.get()
    assert incident.summary == "[Alerting] Panel Title alert" and incident.incident_key == "grafana-1-7"
    assert "High value: 100" in incident.details and incident.labels == {"tag name": "tag value"}
    assert incident.links[0]["text"] == "Grafana" and incident.images[0]["src"].endswith("legacy.png")
    post(source, {**LEGACY, "state": "alerting"})
    post(source, {**LEGACY, "state": "ok", "title": "[OK] Panel Title alert"})
    incident.refresh_from_db()
    assert incident.status == "RESOLVED" and incident.event_count == 2


def test_legacy_no_data_alerts_and_paused_changes_nothing(source):
    post(source, {**LEGACY, "state": "no_data", "title": "Panel Title alert"})
    assert Incident.objects.get().summary == "[No Data] Panel Title alert"
    paused = post(source, {**LEGACY, "state": "paused", "ruleId": 8})
    assert paused.status_code == 202 and paused.json()["alerts"][0]["responseCode"] == "EVENT_IGNORED"
    assert Incident.objects.count() == 1


@pytest.mark.parametrize("body, field", [
    ({**LEGACY, "state": "exploded"}, "state"),
    ({**LEGACY, "ruleId": None}, "ruleId"),
    ({**LEGACY, "evalMatches": "x"}, "evalMatches"),
    ({**LEGACY, "tags": ["x"]}, "tags"),
    ({**UNIFIED, "alerts": [{"status": "firing", "values": [1]}]}, "alerts[0].values"),
    ({**UNIFIED, "alerts": [{"status": "maybe"}]}, "alerts[0].status"),
])
def test_invalid_payloads_get_400_and_change_nothing(source, body, field):
    response = post(source, body)
    assert response.status_code == 400 and field in response.json()["fields"], response.content
    assert not Incident.objects.exists()


def test_the_key_may_come_as_a_bearer_token(source):
    response = post(source, UNIFIED, path="/integrations/grafana", HTTP_AUTHORIZATION=f"Bearer {source.integration_key}")
    assert response.status_code == 202
    assert post(source, UNIFIED, path="/integrations/grafana/" + "x" * 43).status_code == 404


def test_legacy_no_data_keeps_grafanas_own_prefix_once(source):
    """Grafana's legacy title for no_data is already "[No Data] <rule name>"."""
    for _ in range(2):
        assert post(source, {**LEGACY, "state": "no_data", "title": "[No Data] Panel Title alert"}).status_code == 202
    incident = Incident.objects.get()
    assert incident.summary == "[No Data] Panel Title alert" and incident.event_count == 2
