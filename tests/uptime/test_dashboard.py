from django.test import Client

from alerts.models import Incident
from uptime.models import UptimeMonitor

from .conftest import check
from .factories import make_monitor


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_monitors_page_shows_a_status_grid_and_creates_monitors(admin, tenant, http_target):
    client = logged_in(admin)
    page = client.get("/uptime/")
    assert page.status_code == 200 and "No monitors yet" in page.content.decode()
    response = client.post("/uptime/", {
        "name": "Shop", "check_type": "http", "target": f"{http_target.url}/", "interval_seconds": 60,
        "timeout_seconds": 5, "retries": 0, "http_method": "GET", "expected_status": "200-299",
        "http_headers": "X-Check: ilert", "keyword_mode": "present", "follow_redirects": "on", "verify_tls": "on",
        "tls_expiry_days": 14, "dns_record_type": "A",
    })
    monitor = UptimeMonitor.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/uptime/{monitor.pk}/"
    assert monitor.http_headers == {"X-Check": "ilert"} and monitor.alert_source.integration_type == "uptime"
    check(monitor)
    grid = client.get("/uptime/").content.decode()
    assert 'class="uptime-tile up"' in grid and "Shop" in grid
    assert 'data-status="up"' in client.get("/uptime/", HTTP_HX_REQUEST="true").content.decode()


def test_bad_form_input_is_shown_not_saved(admin):
    response = logged_in(admin).post("/uptime/", {"name": "x", "check_type": "tcp", "target": "example.com",
                                                  "interval_seconds": 60, "timeout_seconds": 5, "retries": 0,
                                                  "http_method": "GET", "expected_status": "200",
                                                  "keyword_mode": "present", "tls_expiry_days": 14,
                                                  "dns_record_type": "A"})
    assert response.status_code == 200 and "A TCP check needs a port." in response.content.decode()
    assert not UptimeMonitor.objects.exists()


def test_the_monitor_page_has_charts_figures_and_check_now(admin, tenant, http_target):
    http_target.status = 503
    monitor = check(make_monitor(tenant, name="Shop", target=f"{http_target.url}/", paused=False, retries=0))
    client = logged_in(admin)
    html = client.get(f"/uptime/{monitor.pk}/").content.decode()
    assert '<svg class="uptime-chart"' in html and '<svg class="uptime-bar"' in html
    assert 'data-window="90d"' in html and "Check now" in html
    incident = Incident.objects.get()
    assert f"/incidents/{incident.pk}/" in html and "HTTP 503" in html
    status = client.get(f"/uptime/{monitor.pk}/status").content.decode()
    assert 'id="open-incident"' in status and "<html" not in status
    response = client.post(f"/uptime/{monitor.pk}/check-now")
    assert response.status_code == 302
    monitor.refresh_from_db()
    assert monitor.next_check_at is not None
    client.post(f"/uptime/{monitor.pk}/pause")
    monitor.refresh_from_db()
    assert monitor.paused
    client.post(f"/uptime/{monitor.pk}/", {
        "name": "Shop front", "check_type": "http", "target": f"{http_target.url}/", "interval_seconds": 120,
        "timeout_seconds": 5, "retries": 1, "http_method": "GET", "expected_status": "200-299",
        "keyword_mode": "present", "tls_expiry_days": 14, "dns_record_type": "A",
    })
    monitor.refresh_from_db()
    assert monitor.name == "Shop front" and monitor.interval_seconds == 120
    client.post(f"/uptime/{monitor.pk}/delete")
    assert not UptimeMonitor.objects.exists()


def test_the_overview_panel_is_a_compact_grid(admin, tenant, http_target):
    http_target.status = 500
    check(make_monitor(tenant, name="Shop", target=f"{http_target.url}/", paused=False, retries=0))
    html = logged_in(admin).get("/panels/uptime").content.decode()
    assert "uptime-grid compact" in html and 'class="uptime-tile down"' in html and "1 down" in html
    assert "/panels/uptime" in logged_in(admin).get("/").content.decode()


def test_stakeholders_and_responders_cannot_configure_monitors(stakeholder, responder, tenant):
    monitor = make_monitor(tenant, paused=False)
    assert logged_in(stakeholder).post(f"/uptime/{monitor.pk}/check-now").status_code == 403
    assert logged_in(responder).post(f"/uptime/{monitor.pk}/check-now").status_code == 302
    assert logged_in(responder).post(f"/uptime/{monitor.pk}/delete").status_code == 403
    assert logged_in(responder).post("/uptime/", {"name": "x"}).status_code == 403
    assert UptimeMonitor.objects.count() == 1
