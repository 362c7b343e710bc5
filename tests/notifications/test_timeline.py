"""Every provider call is visible (issue 14, "Pages" 3): retries, timeouts, lookups and fallbacks are
on the incident's timeline and in the notification's delivery attempts (API and dashboard), and
"found at the provider after a timeout" is said only when there was a timeout."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from ilert import clock
from ilert.models import DevMessage
from notifications import engine, services
from notifications.channels import dev
from notifications.models import Notification

from .factories import make_method, make_rule, open_incident

pytestmark = pytest.mark.django_db
S = Notification.Status
RITA_SMS = "SMS to Rita Responder (+49…5678)"


class WorkerKilled(BaseException):
    """The worker process dies here (SIGKILL): nothing after this line of the engine runs."""


def later(**delta):
    return time_machine.travel(clock.now() + timedelta(**delta), tick=False)


@pytest.fixture
def paged(tenant, responder):
    make_rule(responder, make_method(responder, "sms", "+4915112345678"), "HIGH", 0)
    make_rule(responder, make_method(responder, "voice", "+4915112345678"), "HIGH", 5)
    incident = open_incident(tenant)
    services.notify(incident, responder, round_tag="r1")
    return incident


def timeline(incident):
    return list(incident.log_entries.order_by("at", "id").values_list("message", flat=True))


def test_twilio_errors_that_are_retried_are_on_the_timeline_and_in_the_attempts(paged, twilio, api):
    twilio.fail_next((500, 20500), (500, 20500))
    engine.tick()
    with later(seconds=11):
        engine.tick()
    with later(seconds=45):
        engine.tick()
    sms = Notification.objects.get(channel="sms")
    assert sms.status == S.SENT and len(twilio.creates("Messages")) == 3
    lines = [m for m in timeline(paged) if m.startswith(RITA_SMS)]
    assert lines[0].startswith(f"{RITA_SMS} failed (try 1 of 4): SMS: Twilio 500 error 20500")
    assert "Next try at" in lines[0]
    assert lines[1].startswith(f"{RITA_SMS} failed (try 2 of 4): SMS: Twilio 500 error 20500")
    assert lines[2].startswith(f"{RITA_SMS} sent") and lines[2].endswith("(try 3)") and len(lines) == 3

    (row,) = api.get("/api/v1/notifications", {"channel": "sms"}).json()["results"]
    calls = row["delivery_attempts"]
    assert [(c["kind"], c["result"]) for c in calls] == [("send", "failed"), ("send", "failed"), ("send", "sent")]
    assert "20500" in calls[0]["error"] and calls[2]["provider_id"] == twilio.sms[0]["sid"]
    assert all(c["started_at"] and c["finished_at"] for c in calls)


def test_a_timeout_then_a_lookup_are_both_on_the_timeline(paged, twilio):
    twilio.fail_next("timeout-after-create")
    engine.tick()
    with later(minutes=1):
        engine.tick()
    lines = [m for m in timeline(paged) if m.startswith(RITA_SMS)]
    assert "timed out waiting for the answer" in lines[0] and "Not sent again blindly" in lines[0]
    assert lines[1].startswith(f"{RITA_SMS} sent") and "(found at Twilio after a timeout; not sent again)" in lines[1]
    calls = Notification.objects.get(channel="sms").delivery_attempts.order_by("id")
    assert [(c.kind, c.result) for c in calls] == [("send", "timeout"), ("lookup", "found")]
    assert len(twilio.creates("Messages")) == 1


def test_a_message_twilio_took_before_its_worker_died_is_not_said_to_have_timed_out(paged, twilio):
    def die_after_twilio_answered(method, kind, params):
        if method == "POST":
            twilio.after.clear()
            raise WorkerKilled

    twilio.after.append(die_after_twilio_answered)
    with pytest.raises(WorkerKilled):
        engine.dispatch()
    with later(seconds=61):
        engine.tick()
    assert Notification.objects.get(channel="sms").status == S.SENT and len(twilio.creates("Messages")) == 1
    (found,) = [m for m in timeline(paged) if "found at" in m]
    assert "timeout" not in found
    assert found.endswith("(found at Twilio (its worker stopped before recording the answer); not sent again)")


def test_a_page_found_in_the_dev_outbox_is_not_said_to_have_timed_out(paged, monkeypatch):
    write = dev.write

    def write_then_die(*args):
        write(*args)
        raise WorkerKilled

    monkeypatch.setattr(dev, "write", write_then_die)
    with pytest.raises(WorkerKilled):
        engine.dispatch()
    monkeypatch.setattr(dev, "write", write)
    with later(seconds=61):
        engine.tick()
    assert Notification.objects.get(channel="sms").status == S.SENT and DevMessage.objects.count() == 1
    (found,) = [m for m in timeline(paged) if "found" in m]
    assert "timeout" not in found and "provider" not in found
    assert found.endswith("(found in the dev outbox (its worker stopped before recording the answer); not sent again)")


def test_the_incident_panel_shows_each_provider_call(paged, twilio, admin):
    twilio.fail_next((503, 20503))
    engine.tick()
    with later(seconds=11):
        engine.tick()
    client = Client()
    client.force_login(admin)
    html = client.get(f"/notifications/panels/incident/{paged.pk}").content.decode()
    assert "2 provider calls" in html
    assert 'data-kind="send" data-result="failed"' in html and 'data-kind="send" data-result="sent"' in html
    assert twilio.sms[0]["sid"] in html and "Twilio 503 error 20503" in html


def test_a_status_report_that_comes_before_twilios_answer_is_one_send_on_the_timeline(paged, twilio):
    """Twilio's status callback may reach us before the answer to our own request: the message is
    recorded once, and the late answer is not taken for a second message."""
    from django.test import Client as WebClient

    from .conftest import twilio_post

    def report_first(method, kind, params):
        if method == "POST" and kind == "Messages":
            twilio.after.clear()
            sms = Notification.objects.get(channel="sms")
            assert twilio_post(WebClient(), f"/notifications/twilio/status/{sms.token}",
                               {"MessageSid": twilio.sms[-1]["sid"], "MessageStatus": "sent"}).status_code == 204

    twilio.after.append(report_first)
    engine.dispatch()
    sms = Notification.objects.get(channel="sms")
    assert sms.status == S.SENT and sms.provider_id == twilio.sms[0]["sid"]
    lines = [m for m in timeline(paged) if m.startswith(RITA_SMS)]
    assert len(lines) == 1 and "status report" in lines[0]
    assert not paged.log_entries.filter(kind="warning").exists()
    assert sms.delivery_attempts.get().result == "sent"


def test_a_message_twilio_creates_late_after_a_timeout_is_found_not_sent_twice(paged, twilio):
    """The request timed out and Twilio had not created the message by the first lookup, but it was
    still on its way: "not there yet" is not "never sent". The engine asks again before any second
    send, and finds it."""
    from .conftest import SID

    twilio.fail_next("timeout")  # no answer, and (for now) no message at Twilio
    engine.dispatch()
    with later(seconds=20):
        engine.tick()
        sms = Notification.objects.get(channel="sms")
        assert sms.status == S.SENDING and len(twilio.creates("Messages")) == 1
        with later(seconds=10):  # Twilio creates the message from the request it was still holding
            twilio._create("Messages", SID, twilio.creates("Messages")[0]["params"])
    with later(seconds=61):
        engine.tick()
    sms.refresh_from_db()
    assert sms.status == S.SENT and sms.provider_id == twilio.sms[0]["sid"]
    assert len(twilio.creates("Messages")) == 1 and len(twilio.sms) == 1
    lines = [m for m in timeline(paged) if m.startswith(RITA_SMS)]
    assert "is not at Twilio yet after a timeout; asking again at" in lines[1]
    assert "(found at Twilio after a timeout; not sent again)" in lines[2]
