"""Round trips to the database on the paging path: an escalation step through to the SMS handed to
Twilio (the fake, at the HTTP layer). One incident and a storm of 20 (one escalation tick, one
delivery batch) take a pinned number of statements each, so a regression that adds per-page work
fails here; and what the providers took is recorded together, each row only under its own claim.
The user has one rule (SMS at once) with bundling and the throttle off, as in
bench/notify.py: every incident is one SMS."""

import threading
import time

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from escalation import engine as escalation_engine
from notifications import engine
from notifications.engine import recorder as recorder_module
from notifications.models import DeliveryAttempt, Notification
from tests.alerts.factories import alert, make_source
from tests.escalation.factories import make_policy
from tests.factories import UserFactory

from .factories import make_method, make_rule

pytestmark = pytest.mark.django_db

# Counted inside the test's transaction (savepoints show as SAVEPOINT/RELEASE), after a warm-up.
# Before the delivery batch loaded and wrote per batch, and a tick that was not full looked again
# (#16): one incident 34 + 26, twenty 34 + 425, the team 38 + 174.
TICK_1, DELIVER_1 = 30, 17
TICK_20, DELIVER_20 = 30, 95
TICK_TEAM, DELIVER_TEAM = 34, 37


@pytest.fixture
def source(tenant, responder):
    method = make_method(responder, "sms", "+4915112345678", throttle_max=0, bundle_seconds=0)
    make_rule(responder, method, "HIGH", 0)
    policy = make_policy(tenant, levels=[{"users": [responder], "timeout_minutes": 5}])
    return make_source(tenant, escalation_policy=policy)


def storm(source, count, name="node"):
    return [alert(source, summary=f"API 5xx on {name} {n}", key=f"{name}-{n}").incident for n in range(count)]


def warm_up(tenant, twilio):
    """Page once through a source and user of its own: this process has then looked up what it
    caches (sequence names, …), and the pages measured next are not held by this one."""
    user = UserFactory(tenant=tenant)
    make_rule(user, make_method(user, "sms"), "HIGH", 0)
    storm(make_source(tenant, escalation_policy=make_policy(tenant, levels=[{"users": [user]}])), 1, "warm-up")
    escalation_engine.tick()
    engine.dispatch()
    twilio.requests.clear()


def counted(incidents, messages):
    """The statements of one escalation tick and one delivery batch of `messages`."""
    with CaptureQueriesContext(connection) as ticked:
        assert escalation_engine.tick() == len(incidents)
    with CaptureQueriesContext(connection) as delivered:
        assert engine.dispatch() == messages
    assert engine.dispatch() == 0
    return len(ticked), len(delivered), [q["sql"] for q in ticked.captured_queries + delivered.captured_queries]


def page(count, source, twilio):
    """Open `count` incidents, then count the statements of one escalation tick and one delivery
    batch; every incident must reach Twilio exactly once."""
    warm_up(source.tenant, twilio)
    incidents = storm(source, count)
    figures = counted(incidents, count)
    assert len(twilio.creates("Messages")) == count
    bodies = [request["params"]["Body"] for request in twilio.creates("Messages")]
    for incident in incidents:  # one SMS each, saying its own incident
        assert [b for b in bodies if b.startswith(f"ilert #{incident.number} HIGH: {incident.summary} [")] != []
    assert len({b.split(":")[0] for b in bodies}) == count
    assert Notification.objects.filter(status="sent", incident__in=incidents).count() == count
    for incident in incidents:
        assert incident.log_entries.filter(kind="notification", message__contains="sent").count() == 1
    return figures


@pytest.mark.postgres  # the counts are PostgreSQL's statements
def test_one_incident_is_paged_by_sms_in_a_pinned_number_of_statements(source, twilio):
    ticked, delivered, sql = page(1, source, twilio)
    assert (ticked, delivered) == (TICK_1, DELIVER_1), "\n".join(sql)


@pytest.mark.postgres  # the counts are PostgreSQL's statements
def test_twenty_incidents_are_paged_in_one_tick_and_one_batch_with_a_pinned_number_of_statements(source, twilio):
    ticked, delivered, sql = page(20, source, twilio)
    assert (ticked, delivered) == (TICK_20, DELIVER_20), "\n".join(sql)


def test_a_row_taken_over_during_its_call_is_not_recorded_over_while_the_rest_of_the_batch_is(source, twilio):
    """The outcomes of a batch are recorded together, each only under its own claim: a row the
    sweeper took back while its call was out keeps its new owner, and its timeline says the message
    may have arrived twice; the other messages of the batch are recorded as sent."""
    incidents = storm(source, 3)
    escalation_engine.tick()

    def sweeper_takes_the_second_back(method, kind, params):
        if method == "POST" and f"#{incidents[1].number} HIGH" in params.get("Body", ""):
            Notification.objects.filter(incident=incidents[1]).update(lease=F("lease") + 1)

    twilio.before.append(sweeper_takes_the_second_back)
    assert engine.dispatch() == 3
    assert len(twilio.creates("Messages")) == 3
    rows = {row.incident_id: row for row in Notification.objects.filter(incident__in=incidents)}
    assert [rows[i.pk].status for i in incidents] == ["sent", "sending", "sent"]
    assert rows[incidents[0].pk].provider_id and not rows[incidents[1].pk].provider_id
    warning = incidents[1].log_entries.get(kind="warning")
    assert "may have arrived twice" in warning.message
    assert not incidents[1].log_entries.filter(kind="notification", message__contains=" sent ").exists()
    for incident in (incidents[0], incidents[2]):
        assert incident.log_entries.filter(kind="notification", message__contains=" sent ").count() == 1
    attempts = DeliveryAttempt.objects.filter(notification__incident__in=incidents)
    assert sorted(attempts.values_list("result", flat=True)) == ["sent"] * 3  # every call is on record


def test_outcomes_that_finish_while_one_is_written_are_written_together_and_before_add_returns(monkeypatch):
    """The group commit: a sender thread writes its own outcome and every outcome queued meanwhile;
    when add() returns, its outcome has been written (by itself or by the thread that took it)."""
    written, first_write, release_it = [], threading.Event(), threading.Event()

    def write(items):
        if not written:
            first_write.set()
            assert release_it.wait(10)
        written.append([item.claim for item in items])

    monkeypatch.setattr(recorder_module, "write", write)
    recorder = recorder_module.Recorder()
    returned = {}

    def add(name):
        recorder.add(name, "sent", None, None)
        returned[name] = [claim for batch in written for claim in batch]

    first = threading.Thread(target=add, args=("one",))
    first.start()
    assert first_write.wait(10)
    others = [threading.Thread(target=add, args=(name,)) for name in ("two", "three")]
    for thread in others:
        thread.start()
    while len(recorder._queue) < 2:  # both queued behind the write in progress
        time.sleep(0.01)
    release_it.set()
    for thread in [first, *others]:
        thread.join(10)
    assert written[0] == ["one"] and sorted(written[1]) == ["three", "two"] and len(written) == 2
    assert all(name in returned[name] for name in ("one", "two", "three"))


@pytest.mark.postgres  # the counts are PostgreSQL's statements
def test_a_team_paged_for_four_incidents_gets_one_bundled_sms_each_in_a_pinned_number_of_statements(tenant, twilio):
    """Five people on one level with the default throttle and bundle window, four incidents: 20
    pages to five numbers, sent as five SMS of four incidents each."""
    warm_up(tenant, twilio)
    team = [UserFactory(tenant=tenant) for _ in range(5)]
    for user in team:
        make_rule(user, make_method(user, "sms"), "HIGH", 0)
    policy = make_policy(tenant, levels=[{"users": team, "timeout_minutes": 5}])
    incidents = storm(make_source(tenant, escalation_policy=policy), 4)
    ticked, delivered, sql = counted(incidents, 5)
    bodies = [request["params"]["Body"] for request in twilio.creates("Messages")]
    assert len(bodies) == 5 and all(body.startswith("ilert: 4 new incidents") for body in bodies)
    assert sorted(request["params"]["To"] for request in twilio.creates("Messages")) == sorted(
        user.contact_methods.get().address for user in team)
    assert Notification.objects.filter(status="sent", incident__in=incidents).count() == 20
    for incident in incidents:
        assert incident.log_entries.filter(kind="notification", message__contains="one message for").count() == 5
    assert (ticked, delivered) == (TICK_TEAM, DELIVER_TEAM), "\n".join(sql)
