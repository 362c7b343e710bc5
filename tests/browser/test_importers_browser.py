"""An admin plans a PagerDuty import in the browser, reads the plan, then runs the import."""

from datetime import UTC, datetime

import pytest
import time_machine

from accounts.models import User
from tests.importers import pagerduty_org
from tests.importers.fakes import FakeVendor

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fits(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_plan_then_import_from_pagerduty(page, admin, settings):
    settings.ALLOW_PRIVATE_TARGETS = True
    with time_machine.travel(datetime(2026, 10, 20, 12, 0, tzinfo=UTC)), FakeVendor(retry_after="0") as fake:
        pagerduty_org.serve(fake)
        login(page, admin.email, "correct horse battery")
        page.goto("/import/")
        page.select_option("select[name=vendor]", "pagerduty")
        page.fill("input[name=api_key]", "u+pdBrowserKey-123456")
        page.fill("input[name=base_url]", fake.url)
        page.click("button:has-text('Start')")
        page.wait_for_selector("text=Plan ready (nothing was changed)")
        assert "Old Pager Account" in page.inner_text("#steps") and "no email address" in page.content()
        page.screenshot(path="/tmp/import-plan-1280.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        assert _fits(page)
        page.screenshot(path="/tmp/import-plan-390.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        assert User.objects.count() == 1

        form = page.locator("form:has-text('Start')").last
        form.locator("input[name=api_key]").fill("u+pdBrowserKey-123456")
        form.locator("button:has-text('Start')").click()
        page.wait_for_selector("text=Import done")
        assert "the same as PagerDuty" in page.content()
        page.screenshot(path="/tmp/import-done-1280.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        assert _fits(page)
        page.screenshot(path="/tmp/import-done-390.png", full_page=True)
        page.goto("/import/")
        assert _fits(page)
        page.screenshot(path="/tmp/import-start-390.png", full_page=True)
    assert User.objects.count() == 8
