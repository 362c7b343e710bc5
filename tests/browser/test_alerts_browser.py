"""Alert sources and incidents in a real Chromium: create a source, send events to it, watch the
incident appear on the live list, accept it, resolve it."""

import httpx
import pytest

from alerts.models import AlertSource, Incident

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_a_source_send_events_see_the_incident_appear_accept_and_resolve(page, admin, live_server):
    login(page, admin.email, "correct horse battery")
    page.goto("/alert-sources/")
    page.fill("#source-form input[name=name]", "Prometheus prod")
    page.select_option("#source-form select[name=integration_type]", "api")
    page.click("#source-form button[type=submit]")
    page.wait_for_url("**/alert-sources/*/")
    source = AlertSource.objects.get(name="Prometheus prod")
    key = page.inner_text("#integration-key").strip()
    assert key == source.integration_key
    assert "/api/events" in page.inner_text("#curl-snippet")

    # A monitoring tool sends an event while the incident list is open: the live list shows it.
    page.goto("/incidents/")
    assert "No incidents here" in page.inner_text("#incident-rows")
    response = httpx.post(f"{live_server.url}/api/events", json={
        "integrationKey": key, "eventType": "ALERT", "summary": "Disk full on db-1", "alertKey": "db-1"})
    assert response.status_code == 202
    page.wait_for_selector("#incident-rows >> text=Disk full on db-1", timeout=12_000)

    # The "Send test event" button opens a second incident and shows it.
    page.goto(f"/alert-sources/{source.pk}/")
    page.click("#send-test-event")
    page.wait_for_url("**/incidents/*/")
    assert "Test event from" in page.inner_text("h1")

    # Accept, then resolve the first one from its page.
    incident = Incident.objects.get(incident_key="db-1")
    page.goto("/incidents/")
    page.click("#incident-rows >> text=Disk full on db-1")
    page.wait_for_url(f"**/incidents/{incident.pk}/")
    page.click("#accept")
    page.wait_for_selector("text=Accepted by")
    incident.refresh_from_db()
    assert incident.status == "ACCEPTED" and incident.accepted_by == admin
    page.click("#resolve")
    page.wait_for_selector("text=Resolved by")
    incident.refresh_from_db()
    assert incident.status == "RESOLVED"
    assert not page.is_visible("#accept")


def test_a_heartbeat_source_page_shows_its_url_and_state(page, admin, live_server, tenant):
    from alerts import services

    source = services.create_alert_source(tenant, name="Nightly backup", integration_type="heartbeat")
    login(page, admin.email, "correct horse battery")
    page.goto(f"/alert-sources/{source.pk}/")
    url = page.inner_text("#setup-url").strip()
    assert url.endswith(f"/api/heartbeats/{source.integration_key}")
    assert "waiting for the first ping" in page.inner_text("#heartbeat-state")
    assert httpx.get(url.replace("http://testserver", live_server.url)).status_code == 202
    page.reload()
    assert "on time" in page.inner_text("#heartbeat-state")
