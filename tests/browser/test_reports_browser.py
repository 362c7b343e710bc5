"""The reports in Chromium: reached from the navigation, filters in the URL, the SVG charts drawn,
and no page scrolls sideways on a 390 px phone. Screenshots go to /tmp for a look by eye."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from alerts import services
from alerts.ingest import EventType, InboundEvent
from tests.alerts.factories import make_source

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history(tenant, admin):
    source = make_source(tenant, name="payments-api with a long alert source name")
    start = datetime.now(UTC) - timedelta(days=20)
    for n in range(30):
        at = start + timedelta(hours=13 * n)
        incident = services.ingest(source, InboundEvent(EventType.ALERT, summary="x", incident_key=f"key-{n % 4}"),
                                   now=at).incident
        if n % 3:
            services.accept(incident, by=admin, via="sms", now=at + timedelta(minutes=n))
        services.resolve(incident, by=admin, now=at + timedelta(minutes=3 * n + 2))


def test_reports_from_the_navigation_fit_a_phone(page, admin, history):
    login(page, admin.email, "correct horse battery")
    page.click("nav >> text=Reports")
    expect(page.locator("h1")).to_have_text("Response")
    page.select_option("#filters select[name=group]", "source")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**group=source**")
    expect(page.locator("#groups")).to_contain_text("payments-api")
    assert page.locator("svg.report-chart").count() == 2
    page.screenshot(path="/tmp/reports-response-1280.png", full_page=True)
    for name in ("response", "noise", "people", "delivery"):
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"/reports/{name}/?group=assignee" if name == "response" else f"/reports/{name}/")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"/reports/{name}/ scrolls sideways by {overflow} px at 390 px"
        page.screenshot(path=f"/tmp/reports-{name}-390.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=f"/tmp/reports-{name}-1280.png", full_page=True)
