from django.test import Client

from alerts.models import Incident

from .factories import alert, make_source


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_incident_pages_render_and_act(admin, tenant):
    source = make_source(tenant, name="Prometheus")
    incident = alert(source, "db-1 down").incident
    client = logged_in(admin)
    listing = client.get("/incidents/")
    assert listing.status_code == 200 and "db-1 down" in listing.content.decode()
    rows = client.get("/incidents/", HTTP_HX_REQUEST="true")
    assert "db-1 down" in rows.content.decode() and "<html" not in rows.content.decode()
    detail = client.get(f"/incidents/{incident.pk}/")
    assert detail.status_code == 200 and "Timeline" in detail.content.decode()
    client.post(f"/incidents/{incident.pk}/accept")
    incident.refresh_from_db()
    assert incident.status == "ACCEPTED" and incident.accepted_by == admin
    client.post(f"/incidents/{incident.pk}/comment", {"text": "checking disks"})
    client.post(f"/incidents/{incident.pk}/resolve")
    incident.refresh_from_db()
    assert incident.status == "RESOLVED"
    assert "checking disks" in client.get(f"/incidents/{incident.pk}/").content.decode()


def test_bulk_accept_and_resolve(admin, tenant):
    source = make_source(tenant)
    ids = [alert(source, key=str(i)).incident.pk for i in range(3)]
    client = logged_in(admin)
    client.post("/incidents/bulk", {"action": "accept", "ids": ids[:2]})
    assert sorted(Incident.objects.values_list("status", flat=True)) == ["ACCEPTED", "ACCEPTED", "PENDING"]
    client.post("/incidents/bulk", {"action": "resolve", "ids": ids})
    assert set(Incident.objects.values_list("status", flat=True)) == {"RESOLVED"}


def test_stakeholders_cannot_act_from_the_dashboard(stakeholder, tenant):
    incident = alert(make_source(tenant)).incident
    client = logged_in(stakeholder)
    assert client.post(f"/incidents/{incident.pk}/accept").status_code == 403
    assert client.post("/incidents/bulk", {"action": "resolve", "ids": [incident.pk]}).status_code == 403
    incident.refresh_from_db()
    assert incident.status == "PENDING"


def test_alert_source_pages_show_the_key_and_send_a_test_event(admin, tenant):
    client = logged_in(admin)
    response = client.post("/alert-sources/", {"name": "Nagios", "integration_type": "api", "default_priority": "HIGH",
                                               "creation_mode": "dedup"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    from alerts.models import AlertSource

    source = AlertSource.objects.get(name="Nagios")
    assert source.integration_key in page and "curl -X POST" in page
    sent = client.post(f"/alert-sources/{source.pk}/test-event")
    incident = Incident.objects.get(alert_source=source)
    assert sent["Location"] == f"/incidents/{incident.pk}/" and incident.summary.startswith("Test event")


def test_the_overview_panel_counts_open_incidents(admin, tenant):
    source = make_source(tenant)
    alert(source, key="1")
    alert(source, key="2")
    panel = logged_in(admin).get("/panels/incidents").content.decode()
    assert 'id="pending-count">2<' in panel
