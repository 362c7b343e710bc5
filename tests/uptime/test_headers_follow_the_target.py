"""Header values are write-only: read back masked, and a masked value sent back keeps the stored one —
but only for the target they were entered for. An edit that changes the target must enter them again
(400 on http_headers, nothing changed), through the API and the dashboard form alike."""

import pytest
from django.test import Client

from ilert.secrets import MASK
from uptime.models import UptimeMonitor

from .factories import make_monitor

OLD, NEW = "https://shop.example.com/health", "https://collector.example.net/"
SECRET = {"Authorization": "Bearer s3cret-token", "X-Api-Key": "key-123"}
REFUSAL = "Enter the header values again: the target changed"


@pytest.fixture
def monitor(tenant):
    return make_monitor(tenant, name="Shop", target=OLD, http_headers=SECRET)


def unchanged(monitor):
    monitor = UptimeMonitor.objects.get(pk=monitor.pk)
    return monitor.target == OLD and monitor.http_headers == SECRET


@pytest.mark.parametrize("headers", [
    {"Authorization": MASK, "X-Api-Key": MASK},  # what a read gave back
    {"Authorization": "Bearer new-token", "X-Api-Key": MASK},  # one entered again, one still masked
    None,  # left out: the stored values would stay
], ids=["all masked", "one masked", "left out"])
def test_the_api_refuses_a_new_target_that_would_keep_stored_header_values(api, monitor, headers):
    body = {"target": NEW} if headers is None else {"target": NEW, "http_headers": headers}
    response = api.patch(f"/api/v1/uptime-monitors/{monitor.pk}", body, format="json")
    assert response.status_code == 400, response.content
    message = response.json()["fields"]["http_headers"]
    assert REFUSAL in str(message) and "X-Api-Key" in str(message)
    assert unchanged(monitor)


def test_the_api_takes_a_new_target_with_the_values_entered_again_or_without_headers(api, monitor):
    response = api.patch(f"/api/v1/uptime-monitors/{monitor.pk}", {
        "target": NEW, "http_headers": {"Authorization": "Bearer new-token"}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["http_headers"] == {"Authorization": MASK}
    assert UptimeMonitor.objects.get(pk=monitor.pk).http_headers == {"Authorization": "Bearer new-token"}
    response = api.patch(f"/api/v1/uptime-monitors/{monitor.pk}", {"target": OLD, "http_headers": {}}, format="json")
    assert response.status_code == 200 and UptimeMonitor.objects.get(pk=monitor.pk).http_headers == {}


def test_masked_values_still_keep_the_stored_ones_when_the_target_stays(api, monitor):
    response = api.patch(f"/api/v1/uptime-monitors/{monitor.pk}", {
        "name": "Shop (EU)", "http_headers": {"Authorization": MASK, "X-Api-Key": MASK}}, format="json")
    assert response.status_code == 200, response.content
    assert UptimeMonitor.objects.get(pk=monitor.pk).http_headers == SECRET


def test_a_monitor_that_stops_being_http_drops_the_stored_headers(api, monitor):
    response = api.patch(f"/api/v1/uptime-monitors/{monitor.pk}", {
        "check_type": "tls", "target": "collector.example.net"}, format="json")
    assert response.status_code == 200, response.content
    assert UptimeMonitor.objects.get(pk=monitor.pk).http_headers == {}


def form(monitor, **changes):
    data = {
        "name": monitor.name, "check_type": "http", "target": monitor.target, "interval_seconds": 60,
        "timeout_seconds": 10, "retries": 2, "http_method": "GET", "expected_status": "200-299",
        "http_headers": "\n".join(f"{name}: {MASK}" for name in SECRET), "keyword_mode": "present",
        "follow_redirects": "on", "verify_tls": "on", "tls_expiry_days": 14, "dns_record_type": "A",
    }
    return {**data, **changes}


def test_the_dashboard_form_refuses_a_new_target_with_the_masked_values_at_the_headers_field(admin, monitor):
    client = Client()
    client.force_login(admin)
    response = client.post(f"/uptime/{monitor.pk}/", form(monitor, target=NEW))
    assert response.status_code == 200
    assert REFUSAL in " ".join(response.context["form"].errors["http_headers"])
    assert unchanged(monitor)
    response = client.post(f"/uptime/{monitor.pk}/", form(monitor, target=NEW, http_headers="X-Api-Key: key-456"))
    assert response.status_code == 302
    assert UptimeMonitor.objects.get(pk=monitor.pk).http_headers == {"X-Api-Key": "key-456"}
