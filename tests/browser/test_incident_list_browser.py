"""The incident list in daily use: ticked incidents stay ticked through the live refresh (so "Accept
selected" acts on them), and filters live in the URL (the back button returns to the last ones)."""

import pytest

from alerts.models import Incident
from tests.alerts.factories import make_incident, make_source

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEXT_REFRESH = """() => new Promise(done => document.getElementById('incident-rows')
    .addEventListener('htmx:afterSettle', () => done(true), {once: true}))"""


def test_selection_survives_the_live_refresh_and_filters_survive_back(page, admin, tenant):
    source = make_source(tenant, name="Prometheus")
    first = make_incident(source=source, summary="Disk full on db-1", key="disk")
    make_incident(source=source, summary="CPU high on web-7", key="cpu")
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, admin.email, "correct horse battery")
    page.goto("/incidents/")
    page.check(f"input[name=ids][value='{first.pk}']")

    # A new incident arrives; the refresh that shows it keeps the tick.
    make_incident(source=source, summary="Checkout slow", key="checkout")
    while "Checkout slow" not in page.inner_text("#incident-rows"):
        assert page.evaluate(NEXT_REFRESH)
    assert page.is_checked(f"input[name=ids][value='{first.pk}']")
    page.click("text=Accept selected")
    page.wait_for_selector("text=1 incident accepted")
    first.refresh_from_db()
    assert first.status == Incident.Status.ACCEPTED
    assert Incident.objects.filter(status=Incident.Status.ACCEPTED).count() == 1

    # Filters are in the URL; back returns to the previous filters, with the fields showing them.
    page.select_option("#filter-status", "all")
    page.wait_for_url("**/incidents/?*status=all*")
    page.fill("#filter-q", "cpu")
    page.press("#filter-q", "Enter")
    page.wait_for_url("**q=cpu**")
    assert "CPU high on web-7" in page.inner_text("#incident-rows")
    assert "Disk full" not in page.inner_text("#incident-rows")
    page.go_back()
    page.wait_for_url(lambda url: "q=cpu" not in url and "status=all" in url)
    assert page.input_value("#filter-status") == "all" and page.input_value("#filter-q") == ""
    assert "Disk full on db-1" in page.inner_text("#incident-rows")
    # Sorting: a list on the phone, the column headers on a wide screen; both are in the URL.
    page.select_option("#filter-sort", "summary")
    page.wait_for_url("**sort=summary**")
    rows = page.locator("#incident-rows tr").all_inner_texts()
    assert ["CPU" in rows[0], "Checkout" in rows[1], "Disk" in rows[2]] == [True, True, True], rows
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("#incidents th a[data-sort=summary]")
    page.wait_for_url("**sort=-summary**")
    rows = page.locator("#incident-rows tr").all_inner_texts()
    assert "Disk" in rows[0] and "CPU" in rows[2], rows
