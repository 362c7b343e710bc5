"""The delivery engine (docs/architecture.md §4): claim, send outside transactions, retries without double
pages, fallback to the next step, poison pills, throttles and bundling, status callbacks."""

from datetime import timedelta

import pytest
import time_machine

from alerts.models import LogKind
from ilert import clock
from ilert.models import DevMessage
from notifications import channels, engine, services
from notifications.engine import claims, delivery, outcomes
from notifications.models import Notification

from .factories import make_method, make_rule, open_incident

pytestmark = pytest.mark.django_db
S = Notification.Status


def later(**delta):
    return time_machine.travel(clock.now() + timedelta(**delta), tick=False)


@pytest.fixture
def sms_then_voice(responder):
    sms = make_method(responder, "sms", "+4915112345678")
    voice = make_method(responder, "voice", "+4915112345678")
    make_rule(responder, sms, "HIGH", 0)
    make_rule(responder, voice, "HIGH", 5)
    return responder


def page(tenant, user, **fields):
    incident = open_incident(tenant, **fields)
    services.notify(incident, user, round_tag="r1")
    return incident


def row(channel):
    return Notification.objects.get(channel=channel, kind="page")


def test_a_due_page_goes_out_once_and_later_steps_wait_for_their_time(tenant, sms_then_voice, twilio):
    incident = page(tenant, sms_then_voice)
    assert engine.dispatch() == 1
    assert engine.dispatch() == 0  # a repeated task is a no-op
    sms = row("sms")
    assert sms.status == S.SENT and sms.provider_id == twilio.sms[0]["sid"] and sms.attempts == 1
    assert row("voice").status == S.PENDING
    with later(minutes=4, seconds=50):
        assert engine.tick() == 0
    with later(minutes=5, seconds=1):
        assert engine.tick() == 1
    assert len(twilio.creates("Messages")) == 1 and len(twilio.creates("Calls")) == 1
    sent = incident.log_entries.filter(kind=LogKind.NOTIFICATION, message__contains="SMS to Rita Responder (+49…5678) sent")
    assert sent.count() == 1


def test_a_retry_after_a_provider_timeout_never_produces_a_second_sms(tenant, sms_then_voice, twilio):
    """Twilio took the message but the answer never came back (read timeout). Twilio has no
    idempotency key: the engine must ask Twilio instead of sending again."""
    incident = page(tenant, sms_then_voice)
    twilio.fail_next("timeout-after-create")
    engine.dispatch()
    sms = row("sms")
    assert sms.status == S.SENDING and sms.outcome_unknown and len(twilio.sms) == 1
    with later(seconds=5):
        engine.tick()  # before the recheck time: nothing happens
    assert row("sms").status == S.SENDING
    for minutes in (1, 2, 3):  # every later sweep: still exactly one SMS
        with later(minutes=minutes):
            engine.tick()
    sms = row("sms")
    assert sms.status == S.SENT and sms.provider_id == twilio.sms[0]["sid"]
    assert len(twilio.creates("Messages")) == 1 and len(twilio.sms) == 1
    assert incident.log_entries.filter(message__contains="(found at Twilio after a timeout; not sent again)").exists()


def test_a_timeout_before_twilio_took_the_message_is_sent_again_exactly_once(tenant, sms_then_voice, twilio):
    page(tenant, sms_then_voice)
    twilio.fail_next("timeout")  # the request never created a message
    engine.dispatch()
    assert row("sms").status == S.SENDING and twilio.sms == []
    for minutes in (1, 2, 3):
        with later(minutes=minutes):
            engine.tick()
    sms = row("sms")
    assert sms.status == S.SENT and sms.attempts == 2
    assert len(twilio.sms) == 1 and len(twilio.creates("Messages")) == 2


def test_a_retry_after_a_timeout_sends_byte_identical_text(tenant, sms_then_voice, twilio):
    """The text is rendered once: what changed in between (here the alert source's name, which the
    SMS carries) does not change what a retry sends, so a lookup recognises either attempt."""
    from alerts import services as alert_services

    incident = page(tenant, sms_then_voice)
    twilio.fail_next("timeout")  # the request never created a message
    engine.dispatch()
    first = twilio.creates("Messages")[0]["params"]["Body"]
    assert f"[{incident.alert_source.name}]" in first and row("sms").sent_text == first
    alert_services.update_alert_source(incident.alert_source, name="Renamed in between")
    for minutes in (1, 2):
        with later(minutes=minutes):
            engine.tick()
    creates = twilio.creates("Messages")
    assert len(creates) == 2 and creates[1]["params"]["Body"] == first
    assert row("sms").status == S.SENT and row("sms").sent_text == first


def test_a_page_arriving_while_a_bundle_waits_for_its_retry_is_not_swallowed_by_it(tenant, responder, twilio):
    """A retried bundle carries exactly the pages of its first attempt (its text names them); a page
    that came in between goes in its own message."""
    make_rule(responder, make_method(responder, "sms", "+4915112345678"), "HIGH", 0)
    first, second = page(tenant, responder, summary="db-1 down"), page(tenant, responder, summary="db-2 down")
    twilio.fail_next("timeout")
    engine.dispatch()
    bundled = twilio.creates("Messages")[0]["params"]["Body"]
    assert bundled.startswith("ilert: 2 new incidents")
    third = page(tenant, responder, summary="db-3 down")
    for seconds in (20, 90, 160):
        with later(seconds=seconds):
            engine.tick()
    bodies = [create["params"]["Body"] for create in twilio.creates("Messages")]
    assert len(bodies) == 3 and bodies.count(bundled) == 2
    (alone,) = [body for body in bodies if body != bundled]
    assert alone.startswith(f"ilert #{third.number} HIGH: db-3 down")
    rows = {n.incident_id: n for n in Notification.objects.filter(kind="page")}
    assert {rows[i.pk].status for i in (first, second, third)} == {S.SENT}
    assert rows[first.pk].provider_id == rows[second.pk].provider_id != rows[third.pk].provider_id


def test_a_worker_that_died_while_sending_is_settled_by_lookup_not_by_a_second_send(tenant, sms_then_voice, twilio):
    incident = page(tenant, sms_then_voice)
    claim = claims.claim(clock.now())[0]  # claimed and sent, then the worker died before recording it
    sms = channels.get("sms")
    rendered = delivery.render_once(claim, sms, [claim.leader])
    assert delivery.start_send(claim) is not None
    sms.send(claim.leader, rendered, [claim.leader])
    with later(seconds=30):
        engine.tick()
    assert row("sms").status == S.SENDING  # deadline (60 s) not reached
    with later(seconds=61):
        engine.tick()
    assert row("sms").status == S.SENT and len(twilio.sms) == 1
    found = incident.log_entries.get(message__contains="found at Twilio")
    assert "(its worker stopped before recording the answer)" in found.message and "timeout" not in found.message


def test_a_row_whose_worker_died_before_calling_is_queued_again_without_asking_the_provider(
        tenant, sms_then_voice, twilio):
    incident = page(tenant, sms_then_voice)
    claims.claim(clock.now())  # claimed, then the worker died before any provider call
    with later(seconds=61):
        engine.tick()
    assert row("sms").status == S.SENT and len(twilio.sms) == 1
    assert [r["method"] for r in twilio.requests] == ["POST"]  # no lookup: nothing could be at Twilio
    assert incident.log_entries.filter(message__contains="was not started before its deadline; queued again").exists()


def test_a_stale_worker_does_not_overwrite_the_row_someone_else_settled(tenant, sms_then_voice, twilio):
    page(tenant, sms_then_voice)
    claim = claims.claim(clock.now())[0]
    with later(seconds=61):
        engine.reconcile()  # nothing at Twilio: back to pending, then sent by the next dispatch
        engine.dispatch()
    assert row("sms").status == S.SENT and len(twilio.sms) == 1
    recorded = outcomes.record_sent(claim, channels.Sent("twilio", "SMstale"))
    assert recorded is False and row("sms").provider_id == twilio.sms[0]["sid"]


def test_transient_errors_are_retried_with_backoff(tenant, sms_then_voice, twilio):
    page(tenant, sms_then_voice)
    twilio.fail_next((503, 20500), (429, 20429))
    engine.dispatch()
    sms = row("sms")
    assert sms.status == S.PENDING and sms.attempts == 1 and "503" in sms.error
    with later(seconds=5):
        assert engine.tick() == 0  # backoff: not yet
    with later(seconds=11):
        engine.tick()
    assert row("sms").attempts == 2 and row("sms").status == S.PENDING
    with later(seconds=45):
        engine.tick()
    assert row("sms").status == S.SENT and row("sms").attempts == 3
    assert len(twilio.sms) == 1


def test_a_hard_failure_falls_back_to_the_next_step_at_once(tenant, sms_then_voice, twilio):
    incident = page(tenant, sms_then_voice)
    twilio.fail_next((400, 21211))  # invalid 'To' number: no retry can help
    engine.tick()
    assert row("sms").status == S.FAILED and "21211" in row("sms").error
    assert row("voice").status == S.SENT and len(twilio.creates("Calls")) == 1  # 5 minutes early
    warning = incident.log_entries.filter(kind=LogKind.WARNING).last()
    assert "SMS to Rita Responder (+49…5678) failed" in warning.message and "Next: call to rita responder now" in warning.message


def test_after_the_last_try_the_next_step_goes_at_once(tenant, sms_then_voice, twilio, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    page(tenant, sms_then_voice)
    twilio.fail_next((500, 20500), (500, 20500))
    engine.tick()
    with later(seconds=11):
        engine.tick()
    assert row("sms").status == S.FAILED and row("sms").attempts == 2
    assert row("voice").status == S.SENT


def test_an_opted_out_number_is_marked_and_skipped(tenant, sms_then_voice, twilio):
    page(tenant, sms_then_voice)
    twilio.fail_next((400, 21610))
    engine.tick()
    assert row("sms").contact_method.opted_out is True
    assert row("voice").status == S.SENT  # the voice number is still fine


def test_a_push_timeout_is_marked_uncertain_and_not_sent_again(tenant, responder, fcm):
    incident = open_incident(tenant)
    make_rule(responder, make_method(responder, "push"), "HIGH", 0)
    make_rule(responder, make_method(responder, "sms", "+4915112345678"), "HIGH", 10)
    services.notify(incident, responder, round_tag="r1")
    fcm.behaviours.append("timeout")
    engine.dispatch()
    assert row("push").status == S.SENDING
    with later(minutes=1):
        engine.tick()
    assert row("push").status == S.UNCERTAIN and len(fcm.sent) == 1
    assert row("sms").status == S.SENT  # the next step went at once (to the dev outbox: no Twilio)
    assert incident.log_entries.filter(message__contains="may or may not have arrived").exists()


def test_an_unregistered_push_device_is_disabled_and_the_next_step_goes(tenant, responder, fcm):
    device = make_method(responder, "push")
    make_rule(responder, device, "HIGH", 0)
    make_rule(responder, make_method(responder, "email"), "HIGH", 3)
    page(tenant, responder)
    fcm.behaviours.append("unregistered")
    engine.tick()
    device.refresh_from_db()
    assert row("push").status == S.FAILED and device.disabled_reason and not device.usable
    assert row("email").status == S.SENT


class Boom(Exception):
    pass


def test_a_poison_pill_is_parked_with_its_error_and_does_not_stall_the_others(tenant, sms_then_voice, monkeypatch):
    sms = channels.get("sms")
    page(tenant, sms_then_voice, summary="poison")
    page(tenant, sms_then_voice, summary="fine")
    original = sms.render

    def explode(notification, items):
        if any(i.incident.summary == "poison" for i in items):
            raise Boom("cannot render")
        return original(notification, items)

    monkeypatch.setattr(sms, "render", explode)
    Notification.objects.filter(channel="sms").update(step_delay=0)
    for seconds in (0, 20, 60, 200, 600):
        with later(seconds=seconds + 61):
            engine.tick()
    poison = Notification.objects.get(channel="sms", incident__summary="poison")
    assert poison.status == S.PARKED and "Boom: cannot render" in poison.error and poison.crashes == 3
    assert Notification.objects.get(channel="sms", incident__summary="fine").status == S.SENT
    assert Notification.objects.get(channel="voice", incident__summary="poison").status == S.SENT  # fallback


def test_voice_calls_are_throttled_per_contact_method(tenant, responder, twilio):
    voice = make_method(responder, "voice", "+4915112345678", throttle_max=2, throttle_minutes=15, bundle_seconds=0)
    make_rule(responder, voice, "HIGH", 0)
    for _ in range(3):
        page(tenant, responder)
        engine.tick()
    assert len(twilio.creates("Calls")) == 2
    held = Notification.objects.get(status=S.PENDING)
    assert "held until" in held.error
    with later(minutes=16):
        engine.tick()
    assert len(twilio.creates("Calls")) == 3


def test_the_throttle_holds_the_pages_of_one_batch_too(tenant, responder, twilio):
    """One claim takes a whole batch at once: the messages it takes to an address count against
    that address's throttle before any of them is written."""
    sms = make_method(responder, "sms", "+4915112345678", throttle_max=2, throttle_minutes=15, bundle_seconds=0)
    make_rule(responder, sms, "HIGH", 0)
    for n in range(5):
        page(tenant, responder, summary=f"db-{n} down")
    assert engine.dispatch() == 2
    assert len(twilio.creates("Messages")) == 2
    held = Notification.objects.filter(status=S.PENDING)
    assert held.count() == 3 and all("held until" in row.error for row in held)
    with later(minutes=16):
        engine.tick()
    assert len(twilio.creates("Messages")) == 4  # two more: the throttle again


def test_many_incidents_at_once_are_bundled_into_one_sms(tenant, responder, twilio):
    sms = make_method(responder, "sms", "+4915112345678")
    make_rule(responder, sms, "HIGH", 0)
    first = page(tenant, responder, summary="db-1 down")
    engine.tick()
    others = [page(tenant, responder, summary=f"db-{n} down") for n in range(2, 7)]
    engine.tick()
    assert len(twilio.sms) == 1  # held: within the bundle window of the first page
    with later(seconds=61):
        engine.tick()
    assert len(twilio.sms) == 2
    body = twilio.sms[1]["body"]
    assert body.startswith(f"ilert: 5 new incidents, first: #{others[0].number} db-2 down")
    assert "Reply a to accept all" in body
    rows = Notification.objects.filter(incident__in=others)
    assert {r.status for r in rows} == {S.SENT} and {r.provider_id for r in rows} == {twilio.sms[1]["sid"]}
    assert Notification.objects.get(incident=first).provider_id == twilio.sms[0]["sid"]


def test_the_sweeper_sends_what_no_kick_handled(tenant, sms_then_voice, settings):
    settings.ILERT_KICK_TASKS = False
    page(tenant, sms_then_voice)
    from notifications import tasks

    assert tasks.sweep() == 1
    assert DevMessage.objects.filter(channel="sms").count() == 1


def test_the_dev_outbox_gets_every_channel_without_providers(tenant, responder, settings):
    settings.EMAIL_BACKEND = "ilert.devoutbox.EmailBackend"
    for kind in ("sms", "voice", "push", "email"):
        make_rule(responder, make_method(responder, kind), "HIGH", 0)
    incident = page(tenant, responder)
    engine.tick()
    messages = {m.channel: m for m in DevMessage.objects.all()}
    assert set(messages) == {"sms", "voice", "push", "email"}
    assert all(m.tenant_id == tenant.pk and m.meta["incidents"] == [incident.pk] for m in messages.values())
    assert "Reply 1a to accept, 1r to resolve, 1e to escalate" in messages["sms"].body
    assert messages["push"].meta["push_action_token"]
    assert [link["label"] for link in messages["email"].meta["links"]] == [
        f"#{incident.number} accept", f"#{incident.number} resolve", f"#{incident.number} escalate"]
