"""Edit a policy in the browser, then watch an incident escalate through it."""

import pytest

from alerts import services as alert_services
from alerts.ingest import EventType, InboundEvent
from escalation.models import EscalationPolicy
from tests.factories import UserFactory

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_a_policy_and_watch_an_incident_escalate(page, admin, tenant):
    UserFactory(tenant=tenant, name="Bea Backup")
    login(page, admin.email, "correct horse battery")
    page.click("nav >> text=Escalation policies")
    page.fill("input[name=name]", "Web on-call")
    page.click("text=Create policy")
    page.wait_for_selector("#add-level")

    add = page.locator("#add-level")
    add.locator("input[name=timeout_minutes]").fill("15")
    add.locator("label:has-text('Ada Admin') input").check()
    add.locator("button[type=submit]").click()
    page.wait_for_selector(".level[data-level='1']")
    add = page.locator("#add-level")
    add.locator("label:has-text('Bea Backup') input").check()
    add.locator("button[type=submit]").click()
    page.wait_for_selector(".level[data-level='2']")
    assert "Bea Backup" in page.inner_text(".level[data-level='2']")

    policy = EscalationPolicy.objects.get(name="Web on-call")
    source = alert_services.create_alert_source(tenant, name="Web", escalation_policy=policy)
    incident = alert_services.ingest(source, InboundEvent(EventType.ALERT, summary="Checkout is down")).incident

    page.goto(f"/incidents/{incident.pk}/")
    page.wait_for_selector("#escalation-level")
    assert page.inner_text("#escalation-level") == "1"
    assert "Ada Admin" in page.inner_text("#escalation-panel")
    page.click("#escalate")
    page.wait_for_selector("#escalation-level")
    assert page.inner_text("#escalation-level") == "2"
    assert "Bea Backup" in page.inner_text("#escalation-panel")
    assert "Bea Backup" in page.inner_text("#assignee")
