import pytest

from alerts.models import AlertSource, Incident

from .factories import alert, make_source


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="Prometheus")


def test_admins_create_alert_sources_and_see_the_key(api, tenant):
    response = api.post("/api/v1/alert-sources", {"name": "Grafana", "integration_type": "grafana",
                                                   "creation_mode": "group"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    source = AlertSource.objects.get(pk=body["id"])
    assert body["integration_key"] == source.integration_key and len(body["integration_key"]) >= 32
    assert source.key_encrypted and source.integration_key not in source.key_encrypted


def test_regenerating_a_key_changes_it(api, source):
    old = source.integration_key
    new = api.post(f"/api/v1/alert-sources/{source.pk}/regenerate-key").json()["integration_key"]
    assert new != old
    source.refresh_from_db()
    assert source.integration_key == new


@pytest.mark.parametrize("payload, field", [
    ({"name": ""}, "name"),
    ({"name": "x", "integration_type": "carrier-pigeon"}, "integration_type"),
    ({"name": "x", "creation_mode": "whatever"}, "creation_mode"),
    ({"name": "x", "auto_resolve_minutes": 0}, "auto_resolve_minutes"),
    ({"name": "x", "escalation_policy": 999999}, "escalation_policy"),
])
def test_bad_alert_source_input_gets_400(api, payload, field):
    response = api.post("/api/v1/alert-sources", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["message"]
    assert not AlertSource.objects.exists()


def test_responders_cannot_manage_sources_but_handle_incidents(responder_api, source, responder):
    assert responder_api.post("/api/v1/alert-sources", {"name": "x"}, format="json").status_code == 403
    incident = alert(source).incident
    assert responder_api.post(f"/api/v1/incidents/{incident.pk}/accept").json()["status"] == "ACCEPTED"
    incident.refresh_from_db()
    assert incident.accepted_by == responder


def test_stakeholders_can_read_incidents_but_not_act(stakeholder_api, source):
    incident = alert(source).incident
    assert stakeholder_api.get(f"/api/v1/incidents/{incident.pk}").status_code == 200
    assert stakeholder_api.get(f"/api/v1/incidents/{incident.pk}/timeline").status_code == 200
    for action in ("accept", "resolve", "escalate"):
        assert stakeholder_api.post(f"/api/v1/incidents/{incident.pk}/{action}").status_code == 403
    assert stakeholder_api.post(f"/api/v1/incidents/{incident.pk}/comments", {"text": "x"}, format="json").status_code == 403
    incident.refresh_from_db()
    assert incident.status == "PENDING"


def test_incident_lifecycle_through_the_api(api, source, admin, responder):
    created = api.post("/api/v1/incidents", {"alert_source": source.pk, "summary": "Manual", "priority": "LOW"}, format="json")
    assert created.status_code == 201
    pk = created.json()["id"]
    assert created.json()["escalation"]["level"] == 0
    assert api.post(f"/api/v1/incidents/{pk}/reassign", {"user": responder.pk}, format="json").json()["assigned_to"] == responder.pk
    assert api.post(f"/api/v1/incidents/{pk}/comments", {"text": "on it"}, format="json").status_code == 201
    assert [c["message"] for c in api.get(f"/api/v1/incidents/{pk}/comments").json()] == ["on it"]
    assert api.post(f"/api/v1/incidents/{pk}/escalate").json()["status"] == "PENDING"
    assert api.post(f"/api/v1/incidents/{pk}/resolve").json()["status"] == "RESOLVED"
    conflict = api.post(f"/api/v1/incidents/{pk}/accept")
    assert conflict.status_code == 409 and "already resolved" in conflict.json()["message"]
    kinds = [e["kind"] for e in api.get(f"/api/v1/incidents/{pk}/timeline").json() if e["via"] != "notifications"]
    assert kinds == ["created", "event", "assigned", "comment", "escalation_requested", "resolved"]


def test_reassigning_to_another_tenants_user_is_refused(api, source, outsider):
    incident = alert(source).incident
    response = api.post(f"/api/v1/incidents/{incident.pk}/reassign", {"user": outsider.pk}, format="json")
    assert response.status_code == 400 and "user" in response.json()["fields"]


def test_incident_lists_filter(api, tenant, source, responder):
    other = make_source(tenant, name="Other")
    a = alert(source, key="a").incident
    alert(source, key="b", priority="LOW")
    alert(other, key="c")
    from alerts import services

    services.resolve(a)
    services.assign(Incident.objects.get(incident_key="c"), responder)

    def numbers(**params):
        return sorted(i["number"] for i in api.get("/api/v1/incidents", params).json()["results"])

    assert numbers() == [1, 2, 3]
    assert numbers(status="RESOLVED") == [1]
    assert numbers(status=["PENDING", "ACCEPTED"]) == [2, 3]
    assert numbers(alert_source=other.pk) == [3]
    assert numbers(priority="LOW") == [2]
    assert numbers(assigned_to=responder.pk) == [3]
    assert numbers(created_after="2000-01-01T00:00:00Z", ordering="number") == [1, 2, 3]
    assert api.get("/api/v1/incidents", {"status": "EXPLODED"}).status_code == 400
    assert api.get("/api/v1/incidents", {"created_after": "yesterday"}).status_code == 400


def test_maintenance_windows_need_an_end_after_the_start(api, source):
    response = api.post("/api/v1/maintenance-windows", {"alert_source": source.pk, "start": "2026-01-02T00:00:00Z",
                                                          "end": "2026-01-01T00:00:00Z"}, format="json")
    assert response.status_code == 400 and "end" in response.json()["message"]
