"""Issue 17 in a real Chromium: an admin creates a service and a status page, previews it, a
responder-level user posts an incident with two updates, and a visitor who is not logged in reads
it at 390 px without scrolling sideways (and at 1280 px)."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_a_page_post_an_incident_with_two_updates_and_read_it_logged_out(page, browser, live_server, admin):
    login(page, admin.email, "correct horse battery")
    page.click("nav >> text=Status pages")
    page.click(".page-head a:has-text('Services')")
    page.fill("#service-form input[name=name]", "Checkout")
    page.click("#service-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/status-pages/services/\d+/$"))

    page.goto("/status-pages/")
    page.fill("#page-form input[name=name]", "Acme status")
    page.fill("#page-form input[name=slug]", "acme")
    page.check("#page-form input[name=services] >> nth=0")
    page.click("#page-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/status-pages/\d+/$"))
    page.click(".page-head a:has-text('Preview')")
    expect(page.locator(".preview")).to_contain_text("not published yet")
    expect(page.locator("body")).to_contain_text("All Systems Operational")
    page.go_back()
    page.check("input[name=published]")
    page.click("button:has-text('Save')")
    expect(page.locator(".messages")).to_contain_text("Saved")

    page.goto("/status-pages/incidents/")
    page.fill("#incident-form input[name=title]", "Checkout errors")
    page.fill("#incident-form textarea[name=message]", "We are investigating failed payments.")
    page.check("#incident-form input[name=services] >> nth=0")
    page.select_option("#incident-form select[name=service_impact]", "major_outage")
    page.click("#incident-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/status-pages/incidents/\d+/$"))
    for status, message in (("identified", "A bad deploy of the payment service."),
                            ("monitoring", "Rolled back; watching the error rate.")):
        page.select_option("#update-form select[name=status]", status)
        page.fill("#update-form textarea[name=message]", message)
        page.click("#update-form button[type=submit]")
        expect(page.locator("#updates")).to_contain_text(message)

    visitor = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    try:
        phone = visitor.new_page()
        phone.goto("/status/acme/")
        expect(phone.locator(".banner")).to_have_text("Major System Outage")
        expect(phone.locator("body")).to_contain_text("Checkout errors")
        expect(phone.locator("body")).to_contain_text("A bad deploy of the payment service.")
        expect(phone.locator("body")).to_contain_text("Rolled back; watching the error rate.")
        expect(phone.locator(".svc .st")).to_have_text("Major outage")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert phone.locator("script").count() == 0
        phone.screenshot(path="/tmp/status-page-390.png", full_page=True)
        phone.set_viewport_size({"width": 1280, "height": 900})
        phone.reload()
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        phone.screenshot(path="/tmp/status-page-1280.png", full_page=True)
    finally:
        visitor.close()

    page.set_viewport_size({"width": 390, "height": 844})  # the dashboard's pages on a phone too
    for name, path in (("pages", "/status-pages/"), ("services", "/status-pages/services/"),
                       ("incidents", "/status-pages/incidents/")):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        page.screenshot(path=f"/tmp/status-dash-{name}-390.png", full_page=True)


@pytest.mark.parametrize("width", [390, 1280])
def test_groups_are_run_from_the_dashboard(page, admin, width):
    """Create two groups, rename one, put a service in it, move it first, take the service out,
    delete the other group: on a phone and on a desktop, without scrolling sideways."""
    page.set_viewport_size({"width": width, "height": 900})
    login(page, admin.email, "correct horse battery")
    page.goto("/status-pages/services/")
    page.fill("#service-form input[name=name]", "Checkout")
    page.click("#service-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/status-pages/services/\d+/$"))
    page.goto("/status-pages/services/")
    for name in ("Payments", "Regions"):
        page.fill("#group-form input[name=name]", name)
        page.click("#group-form button[type=submit]")
        expect(page.locator(".messages")).to_contain_text("Group created")
    page.click("#groups a:has-text('Payments')")
    page.fill("input[name=name]", "Payments and checkout")
    page.click("button:has-text('Save')")
    expect(page.locator("h1")).to_have_text("Payments and checkout")
    page.select_option("#id_add_service", label="Checkout")
    page.click("button:has-text('Move into the group')")
    expect(page.locator(".messages")).to_contain_text("moved into the group")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=f"/tmp/status-group-{width}.png", full_page=True)
    page.click("a:has-text('All services')")
    page.click("button[aria-label='Move Regions up']")
    expect(page.locator("#groups tbody tr").first).to_contain_text("Regions")
    expect(page.locator("table.list >> nth=0")).to_contain_text("Payments and checkout")  # the service's group
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=f"/tmp/status-groups-{width}.png", full_page=True)
    page.click("#groups a:has-text('Payments and checkout')")
    page.click("button[aria-label='Move Checkout out of the group']")
    expect(page.locator("body")).to_contain_text("No services in this group yet.")
    page.goto("/status-pages/services/")
    page.click("#groups a:has-text('Regions')")
    page.click("button:has-text('Delete group')")
    expect(page.locator(".messages")).to_contain_text("Group deleted")
    expect(page.locator("#groups tbody tr")).to_have_count(1)


@pytest.mark.parametrize("width", [390, 1280])
def test_a_custom_domain_is_proved_with_check_now(page, admin, tenant, settings, width):
    from status.services import domains
    from tests.status.factories import make_page
    from tests.uptime.servers import DnsTarget

    dns_server = DnsTarget({})
    settings.STATUS_DNS_RESOLVER = dns_server.server
    try:
        status_page = make_page(tenant, slug="acme", name="Acme status", custom_domain="status.acme.example")
        page.set_viewport_size({"width": width, "height": 900})
        login(page, admin.email, "correct horse battery")
        page.goto(f"/status-pages/{status_page.pk}/")
        expect(page.locator("#domain")).to_contain_text("pending verification")
        expect(page.locator("#domain")).to_contain_text("_ilert-status.status.acme.example")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.locator("#domain").screenshot(path=f"/tmp/status-domain-pending-{width}.png")
        page.click("#domain button:has-text('Check now')")
        expect(page.locator(".messages")).to_contain_text("No TXT record")
        status_page.refresh_from_db()
        dns_server.records[("_ilert-status.status.acme.example.", "TXT")] = [f'"{domains.record_value(status_page)}"']
        page.click("#domain button:has-text('Check now')")
        expect(page.locator(".messages")).to_contain_text("is verified")
        expect(page.locator("#domain .badge")).to_have_text("verified")
        page.screenshot(path=f"/tmp/status-domain-verified-{width}.png", full_page=True)
    finally:
        dns_server.stop()
