"""Answers to pages are acted on once per delivery (ilert/replay.py): a Twilio SMS reply sent again
with its MessageSid, a keypress callback of a call sent again with its CallSid, and a Mailgun
email reply sent again with its token do nothing the second time — with real signatures."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from alerts.models import IncidentLogEntry

from .conftest import twilio_post
from .test_webhooks import NUMBER, paged

pytestmark = pytest.mark.django_db
MAILGUN_KEY = "mailgun-signing-key"


def escalations(incident):
    return IncidentLogEntry.objects.filter(incident=incident, kind="escalation_requested").count()


def test_an_sms_reply_sent_again_with_its_message_sid_does_nothing(tenant, responder, twilio):
    incident, _row = paged(tenant, responder, "sms", NUMBER)
    reply = {"From": NUMBER, "To": "+15005550006", "Body": "1e", "MessageSid": "SM" + "5" * 32}
    first = twilio_post(Client(), "/notifications/twilio/sms", reply)
    assert f"<Message>#{incident.number} escalated.</Message>" in first.content.decode()
    again = twilio_post(Client(), "/notifications/twilio/sms", reply)
    assert again.status_code == 200 and "<Message>" not in again.content.decode()  # no second reply SMS
    assert escalations(incident) == 1
    twilio_post(Client(), "/notifications/twilio/sms", {**reply, "MessageSid": "SM" + "6" * 32})
    assert escalations(incident) == 2  # a new message is a new answer


def test_a_keypress_callback_sent_again_for_its_call_does_nothing(tenant, responder, twilio):
    incident, row = paged(tenant, responder, "voice", NUMBER)
    path = f"/notifications/twilio/voice/{row.token}/gather"
    assert "escalated" in twilio_post(Client(), path, {"CallSid": row.provider_id, "Digits": "3"}).content.decode()
    again = twilio_post(Client(), path, {"CallSid": row.provider_id, "Digits": "3"}).content.decode()
    assert "already answered the page" in again and "<Hangup />" in again
    assert escalations(incident) == 1


def test_star_to_repeat_the_menu_is_not_an_answer(tenant, responder, twilio):
    incident, row = paged(tenant, responder, "voice", NUMBER)
    path = f"/notifications/twilio/voice/{row.token}/gather"
    for digits in ("*", "9", "3"):
        twilio_post(Client(), path, {"CallSid": row.provider_id, "Digits": digits})
    assert escalations(incident) == 1


def test_an_email_reply_sent_again_with_its_mailgun_token_does_nothing(tenant, responder, settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY, "WEBHOOK_SECRET": "anymail:secret"}
    incident, row = paged(tenant, responder, "email", "rita@pager.example.com")
    recipient = f"reply+{row.token}@in.ilert.example.com"
    timestamp, token = str(int(time.time())), "b" * 50
    delivery = {"recipient": recipient, "sender": "rita@pager.example.com", "from": "rita@pager.example.com",
                "subject": "Re: [ilert] incident", "body-plain": "escalate", "stripped-text": "escalate",
                "message-headers": json.dumps([["From", "rita@pager.example.com"], ["To", recipient]]),
                "timestamp": timestamp, "token": token,
                "signature": hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()}
    auth = "Basic " + base64.b64encode(b"anymail:secret").decode()
    for _ in range(2):
        assert Client().post("/anymail/mailgun/inbound/", delivery, HTTP_AUTHORIZATION=auth).status_code == 200
    assert escalations(incident) == 1
