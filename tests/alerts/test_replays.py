"""Replays are refused where the sender gives us the means (ilert/replay.py): a Mailgun delivery
(signed timestamp + token), a Postmark MessageID and a Twilio MessageSid are acted on once, with
the senders' real signing schemes; a delivery whose processing failed can still be retried."""

import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from twilio.request_validator import RequestValidator

from alerts.integrations.email import address_for
from alerts.models import Incident
from ilert import clock, ratelimit, replay, tasks
from ilert.models import SeenDelivery
from tests.notifications.fakes import platform_twilio

from .factories import make_source

DOMAIN = "alerts.example.com"
SIGNING_KEY = "mailgun-signing-key-for-replays"
TWILIO_TOKEN = "twilio-auth-token-for-replays"
ONCALL, NUMBER = "+14155552671", "+14155550100"


@pytest.fixture(autouse=True)
def inbound_settings(settings):
    settings.INBOUND_EMAIL_DOMAIN = DOMAIN
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, "WEBHOOK_SECRET": "anymail:secret"}
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    ratelimit.reset()


@pytest.fixture
def mailbox(tenant):
    return make_source(tenant, name="Mailbox", integration_type="email")


def mailgun_delivery(to, *, subject="Disk full on db-1", timestamp=None, token=None):
    """A Mailgun inbound POST, signed as Mailgun signs: HMAC-SHA256 over timestamp + token."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    token = token or uuid.uuid4().hex + "ab"
    signature = hmac.new(SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    headers = [["From", "nagios@example.com"], ["To", to], ["Subject", subject]]
    return {"recipient": to, "sender": "nagios@example.com", "from": "nagios@example.com", "subject": subject,
            "body-plain": "Only 2% left.", "message-headers": json.dumps(headers),
            "timestamp": timestamp, "token": token, "signature": signature}


def deliver(data):
    import base64

    auth = "Basic " + base64.b64encode(b"anymail:secret").decode()
    return Client().post("/anymail/mailgun/inbound/", data, HTTP_AUTHORIZATION=auth)


def test_a_mailgun_delivery_sent_twice_opens_one_incident(mailbox):
    delivery = mailgun_delivery(address_for(mailbox))
    assert deliver(delivery).status_code == 200
    again = deliver(delivery)
    assert again.status_code == 200 and again.json()["code"] == "duplicate"  # 200: Mailgun stops retrying
    assert Incident.objects.count() == 1
    assert deliver(mailgun_delivery(address_for(mailbox))).status_code == 200  # a new token is a new mail
    assert Incident.objects.count() == 2


@pytest.mark.parametrize("age", [12 * 3600 + 1, -301, "soon"])
def test_a_signed_timestamp_outside_the_window_is_refused(mailbox, age):
    timestamp = age if isinstance(age, str) else int(time.time()) - age
    response = deliver(mailgun_delivery(address_for(mailbox), timestamp=timestamp))
    assert response.status_code == 406, response.content  # 406: Mailgun does not retry it
    assert response.json()["code"] == "stale"
    assert not Incident.objects.exists() and not SeenDelivery.objects.exists()


def test_mailguns_retry_of_a_late_delivery_within_the_window_is_taken(mailbox):
    # Mailgun retries a failed delivery for 8 hours with its first signature.
    delivery = mailgun_delivery(address_for(mailbox), timestamp=int(time.time()) - 8 * 3600)
    assert deliver(delivery).status_code == 200
    assert Incident.objects.count() == 1


def test_a_delivery_that_failed_is_not_remembered_so_its_retry_goes_through(mailbox, settings):
    settings.INGEST_RATE_LIMIT = "1/minute"
    assert deliver(mailgun_delivery(address_for(mailbox), subject="first")).status_code == 200
    delivery = mailgun_delivery(address_for(mailbox), subject="second")
    assert deliver(delivery).status_code == 429  # nothing done: the ESP retries later
    ratelimit.reset()
    assert deliver(delivery).status_code == 200
    assert sorted(Incident.objects.values_list("summary", flat=True)) == ["first", "second"]


def test_tokens_are_forgotten_once_their_timestamp_is_refused_anyway(mailbox):
    with time_machine.travel(clock.now(), tick=False) as traveller:
        deliver(mailgun_delivery(address_for(mailbox), timestamp=int(time.time())))
        assert SeenDelivery.objects.filter(scope="mailgun").count() == 1
        traveller.shift(timedelta(hours=12))
        assert tasks.prune_replays() == 0
        traveller.shift(timedelta(minutes=6))
        assert tasks.prune_replays() == 1
    assert not SeenDelivery.objects.exists()


def test_a_postmark_message_delivered_twice_opens_one_incident(mailbox):
    import base64

    body = json.dumps({"FromFull": {"Email": "pm@example.com", "Name": "Monitor"},
                       "ToFull": [{"Email": address_for(mailbox), "Name": ""}], "Subject": "Disk full",
                       "TextBody": "2% left", "Headers": [], "OriginalRecipient": address_for(mailbox),
                       "MessageID": str(uuid.uuid4())})
    auth = "Basic " + base64.b64encode(b"anymail:secret").decode()
    for _ in range(2):
        response = Client().post("/anymail/postmark/inbound/", body, content_type="application/json",
                                 HTTP_AUTHORIZATION=auth)
        assert response.status_code == 200
    assert Incident.objects.count() == 1


# --- SMS alert sources (Twilio) ---------------------------------------------------------------------


@pytest.fixture
def sms_source(tenant, settings):
    with platform_twilio(settings, NUMBER, token=TWILIO_TOKEN):  # the platform's account owns NUMBER (proven at save)
        yield make_source(tenant, name="SMS line", integration_type="sms",
                          options={"phone_number": NUMBER, "allowed_senders": [ONCALL]})


def twilio_sms(message_sid, body="Server room too hot"):
    params = {"MessageSid": message_sid, "AccountSid": "AC" + "1" * 32, "From": ONCALL, "To": NUMBER, "Body": body,
              "NumMedia": "0"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature("http://testserver/integrations/twilio/sms", params)
    return Client().post("/integrations/twilio/sms", params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_an_sms_whose_message_sid_was_processed_is_answered_200_and_does_nothing(sms_source):
    first, again = twilio_sms("SM" + "7" * 32), twilio_sms("SM" + "7" * 32)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and b"<Response></Response>" in again.content
    assert Incident.objects.count() == 1
    assert twilio_sms("SM" + "8" * 32).status_code == 200  # the same text again, but a new message
    assert Incident.objects.count() == 2


def test_an_sms_that_failed_can_be_delivered_again(sms_source, settings):
    settings.INGEST_RATE_LIMIT = "1/minute"
    twilio_sms("SM" + "1" * 32)
    assert twilio_sms("SM" + "2" * 32).status_code == 429
    ratelimit.reset()
    assert twilio_sms("SM" + "2" * 32).status_code == 200
    assert Incident.objects.count() == 2


def test_the_replay_memory_is_one_row_per_id_across_processes(db):
    assert replay.first_time("twilio-message", "SM1") is True
    assert replay.first_time("twilio-message", "SM1") is False
    assert replay.first_time("mailgun", "SM1") is True  # scopes are separate senders
    assert replay.first_time("twilio-message", "") is True  # no id: nothing to recognise
    assert SeenDelivery.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_copies_of_one_sms_at_once_open_one_incident(sms_source):
    import threading

    from django.db import connection

    barrier, answers, errors = threading.Barrier(20), [], []

    def twin():
        try:
            barrier.wait(timeout=60)
            answers.append(twilio_sms("SM" + "9" * 32).status_code)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=twin) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and answers == [200] * 20
    assert Incident.objects.count() == 1 and SeenDelivery.objects.count() == 1
