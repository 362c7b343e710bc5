"""In the browser: set up a phone number (verified with the code from the dev outbox) and a rule on
the profile page; then answer a page from the dev outbox and see the incident accepted.

No escalation engine in this branch yet: the test pages the user with notifications.services.notify
right after opening the incident, as the engine will."""

import re

import pytest

from alerts.models import Incident
from notifications import services
from tests.alerts.factories import make_incident
from tests.factories import TenantFactory, UserFactory

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_set_up_contact_methods_and_rules_then_accept_from_the_dev_outbox(page, live_server, settings):
    settings.SITE_URL = live_server.url
    tenant = TenantFactory(name="Acme", slug="acme")
    rita = UserFactory(tenant=tenant, email="rita@acme.test", name="Rita Responder", role="responder")
    login(page, "rita@acme.test", "correct horse battery")

    page.goto("/profile/")
    page.wait_for_selector("#no-rules-warning")
    page.select_option("#cm-kind", "sms")
    page.fill("#cm-address", "+49 151 12345678")
    page.click("#add-contact-method button[type=submit]")
    page.wait_for_selector("text=we sent a code")

    page.goto("/dev/outbox/?channel=sms")
    code = re.search(r"verification code: (\d{6})", page.inner_text("main")).group(1)

    page.goto("/profile/")
    page.fill(".verify-form input[name=code]", code)
    page.click(".verify-form button[type=submit]")
    page.wait_for_selector("text=verified.")
    page.select_option("#rule-priority", "HIGH")
    page.fill("#rule-delay", "0")
    page.click("#add-rule button[type=submit]")
    page.wait_for_selector("#rules-HIGH li")
    assert "at once" in page.inner_text("#rules-HIGH")
    assert page.locator("#no-rules-warning").count() == 0

    incident = make_incident(tenant, summary="Checkout is failing")
    services.notify(incident, rita, round_tag="r1")  # what the escalation engine does

    page.goto("/dev/outbox/?channel=sms")
    row = page.locator("tr", has_text="Checkout is failing")
    assert "Reply 1a to accept" in row.inner_text()
    row.locator("input[name=text]").fill("1a")
    row.locator("button", has_text="Reply by SMS").click()
    page.wait_for_selector(f"text=#{incident.number} accepted.")
    assert Incident.objects.get(pk=incident.pk).status == "ACCEPTED"

    page.goto(f"/incidents/{incident.pk}/")
    page.wait_for_selector("#incident-notifications")
    assert "Accepted" in page.inner_text("#incident-status")
    assert page.locator('#incident-notifications tr[data-status="sent"]').count() == 1
