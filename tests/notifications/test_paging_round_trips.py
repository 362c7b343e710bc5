"""Round trips to the database on the paging path: an escalation step through to the SMS handed to
Twilio (the fake, at the HTTP layer). One incident and a storm of 20 (one escalation tick, one
delivery batch) take a pinned number of statements each, so a regression that adds per-page work
fails here. The user has one rule (SMS at once) with bundling and the throttle off, as in
bench/notify.py: every incident is one SMS."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation import engine as escalation_engine
from notifications import engine
from notifications.models import Notification
from tests.alerts.factories import alert, make_source
from tests.escalation.factories import make_policy

from .factories import make_method, make_rule

pytestmark = pytest.mark.django_db

# Counted inside the test's transaction (savepoints show as SAVEPOINT/RELEASE). Before the delivery
# batch loaded and wrote per batch (#16): 36 + 26 for one incident, 34 + 425 for twenty.
TICK_1, DELIVER_1 = 33, 17
TICK_20, DELIVER_20 = 33, 95


@pytest.fixture
def source(tenant, responder):
    method = make_method(responder, "sms", "+4915112345678", throttle_max=0, bundle_seconds=0)
    make_rule(responder, method, "HIGH", 0)
    policy = make_policy(tenant, levels=[{"users": [responder], "timeout_minutes": 5}])
    return make_source(tenant, escalation_policy=policy)


def storm(source, count, name="node"):
    return [alert(source, summary=f"API 5xx on {name} {n}", key=f"{name}-{n}").incident for n in range(count)]


def page(count, source, twilio):
    """Open `count` incidents, then count the statements of one escalation tick and one delivery
    batch; every incident must reach Twilio exactly once."""
    storm(source, 1, "warm-up")  # a warm-up: this process has looked up what it caches (sequence names, …)
    escalation_engine.tick()
    engine.dispatch()
    twilio.requests.clear()
    incidents = storm(source, count)
    with CaptureQueriesContext(connection) as ticked:
        assert escalation_engine.tick() == count
    with CaptureQueriesContext(connection) as delivered:
        assert engine.dispatch() == count
    assert engine.dispatch() == 0
    assert len(twilio.creates("Messages")) == count
    bodies = [request["params"]["Body"] for request in twilio.creates("Messages")]
    for incident in incidents:  # one SMS each, saying its own incident
        assert [b for b in bodies if b.startswith(f"ilert #{incident.number} HIGH: {incident.summary} [")] != []
    assert len({b.split(":")[0] for b in bodies}) == count
    assert Notification.objects.filter(status="sent", incident__in=incidents).count() == count
    for incident in incidents:
        assert incident.log_entries.filter(kind="notification", message__contains="sent").count() == 1
    return len(ticked), len(delivered), [q["sql"] for q in ticked.captured_queries + delivered.captured_queries]


def test_one_incident_is_paged_by_sms_in_a_pinned_number_of_statements(source, twilio):
    ticked, delivered, sql = page(1, source, twilio)
    assert (ticked, delivered) == (TICK_1, DELIVER_1), "\n".join(sql)


def test_twenty_incidents_are_paged_in_one_tick_and_one_batch_with_a_pinned_number_of_statements(source, twilio):
    ticked, delivered, sql = page(20, source, twilio)
    assert (ticked, delivered) == (TICK_20, DELIVER_20), "\n".join(sql)
