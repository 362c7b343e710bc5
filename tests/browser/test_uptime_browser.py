"""Create an HTTP monitor against a local server in a real Chromium, stop the server, watch the
monitor go down and an incident open, restart it and watch the incident resolve."""

import re

import pytest
from playwright.sync_api import expect

from alerts.models import Incident
from tests.uptime.servers import HttpTarget
from uptime.models import UptimeMonitor

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_monitor_goes_down_opens_an_incident_and_resolves_it_when_the_target_is_back(page, admin, settings):
    settings.ALLOW_PRIVATE_TARGETS = True  # the target is a local server (self-hosted mode)
    target = HttpTarget(body="<h1>Welcome to the shop</h1>")
    try:
        login(page, admin.email, "correct horse battery")
        page.click("nav >> text=Uptime monitors")
        page.fill("#monitor-form input[name=name]", "Shop")
        page.select_option("#monitor-form select[name=check_type]", "http")
        expect(page.locator("#monitor-form input[name=keyword]")).to_be_visible()
        expect(page.locator("#monitor-form input[name=dns_expected]")).to_be_hidden()
        page.fill("#monitor-form input[name=target]", f"{target.url}/")
        page.fill("#monitor-form input[name=interval_seconds]", "30")
        page.fill("#monitor-form input[name=timeout_seconds]", "2")
        page.fill("#monitor-form input[name=retries]", "1")
        page.fill("#monitor-form input[name=keyword]", "Welcome")
        page.click("#monitor-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/uptime/\d+/$"))
        # the first check ran as soon as the monitor was created (the kick)
        expect(page.locator("#monitor-state")).to_have_text("Up")
        assert target.hits == 1

        target.stop()
        page.click("#check-now")
        expect(page.locator("#monitor-state")).to_contain_text("Failing (1/2)")
        assert not Incident.objects.exists()
        page.click("#check-now")
        expect(page.locator("#monitor-state")).to_have_text("Down")
        expect(page.locator("#last-message")).to_contain_text("connection refused")

        page.click("#open-incident")
        expect(page.locator("h1")).to_contain_text("Shop is down: Cannot reach")
        expect(page.locator("h1")).to_contain_text("2 checks in a row")
        incident_url = page.url
        page.go_back()

        target.start()  # the same port again
        page.click("#check-now")
        expect(page.locator("#monitor-state")).to_have_text("Up")
        expect(page.locator("#open-incident")).to_have_count(0)
        expect(page.locator("#monitor-incidents")).to_contain_text("Resolved")

        page.goto(incident_url)
        expect(page.locator("#timeline")).to_contain_text("is back up after")
        expect(page.locator("#timeline")).to_contain_text("Resolved by")
        incident = Incident.objects.get()
        assert incident.status == "RESOLVED" and incident.incident_key == f"uptime-{UptimeMonitor.objects.get().pk}"
    finally:
        target.stop()
