"""Inbound answers over HTTP: Twilio SMS and voice webhooks signed with twilio's RequestValidator,
status callbacks, push actions, one-click email links and email replies through anymail's Mailgun
inbound webhook with Mailgun's signature. Forged or missing signatures change nothing."""

import base64
import hashlib
import hmac
import json
import re
import secrets
import time

import pytest
from django.core import signing
from django.test import Client

from alerts.models import Incident
from ilert.models import DevMessage
from notifications import engine, services, tokens
from notifications.models import Notification

from .conftest import SID, twilio_post
from .factories import make_method, make_rule, open_incident

pytestmark = pytest.mark.django_db
NUMBER = "+4915112345678"


@pytest.fixture
def client():
    return Client()


def paged(tenant, user, kind, address=None, **fields):
    method = make_method(user, kind, address)
    make_rule(user, method, "HIGH", 0)
    incident = open_incident(tenant, **fields)
    services.notify(incident, user, round_tag="r1")
    engine.dispatch()
    return incident, Notification.objects.get(incident=incident, channel=kind)


def status_of(incident):
    return Incident.objects.get(pk=incident.pk).status


# --- SMS ----------------------------------------------------------------------------------------


def test_a_signed_sms_reply_accepts_the_incident(tenant, responder, twilio, client):
    incident, _row = paged(tenant, responder, "sms", NUMBER)
    response = twilio_post(client, "/notifications/twilio/sms", {"From": NUMBER, "To": "+15005550006", "Body": "1a"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    assert f"<Message>#{incident.number} accepted.</Message>" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == "ACCEPTED" and incident.accepted_by == responder
    assert incident.log_entries.filter(kind="accepted", via="sms").exists()


@pytest.mark.parametrize("signature", ["", "forged-signature", "wrong-token"])
def test_a_forged_or_missing_sms_signature_is_refused_and_changes_nothing(tenant, responder, twilio, client, signature):
    incident, _row = paged(tenant, responder, "sms", NUMBER)
    params = {"From": NUMBER, "Body": "1a"}
    if signature == "wrong-token":
        response = twilio_post(client, "/notifications/twilio/sms", params, token="not-the-auth-token")
    else:
        response = twilio_post(client, "/notifications/twilio/sms", params, signature=signature)
    assert response.status_code == 403
    assert status_of(incident) == "PENDING"


def test_a_signature_over_other_parameters_is_refused(tenant, responder, twilio, client):
    from twilio.request_validator import RequestValidator

    incident, _row = paged(tenant, responder, "sms", NUMBER)
    signed_for = {"AccountSid": SID, "From": NUMBER, "Body": "1r"}
    signature = RequestValidator("platform-auth-token").compute_signature(
        "http://testserver/notifications/twilio/sms", signed_for)
    response = client.post("/notifications/twilio/sms", {**signed_for, "Body": "1a"},
                           HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403 and status_of(incident) == "PENDING"


def test_a_delivery_callback_marks_the_sms_delivered_on_the_timeline(tenant, responder, twilio, client):
    incident, row = paged(tenant, responder, "sms", NUMBER)
    response = twilio_post(client, f"/notifications/twilio/status/{row.token}",
                           {"MessageSid": row.provider_id, "MessageStatus": "delivered"})
    assert response.status_code == 204
    row.refresh_from_db()
    assert row.status == "delivered" and row.delivered_at is not None
    entry = incident.log_entries.filter(message__contains="delivered").get()
    assert re.fullmatch(r"SMS to Rita Responder \(\+49…5678\) delivered \d\d:\d\d:\d\d CES?T", entry.message)
    assert entry.via == "sms"


def test_an_undelivered_callback_fails_the_row_and_moves_to_the_next_step(tenant, responder, twilio, client):
    sms = make_method(responder, "sms", NUMBER)
    make_rule(responder, sms, "HIGH", 0)
    make_rule(responder, make_method(responder, "voice", NUMBER), "HIGH", 10)
    incident = open_incident(tenant)
    services.notify(incident, responder, round_tag="r1")
    engine.dispatch()
    row = Notification.objects.get(channel="sms")
    twilio_post(client, f"/notifications/twilio/status/{row.token}",
                {"MessageSid": row.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    assert Notification.objects.get(channel="sms").status == "failed"
    engine.dispatch()  # the call was due in 10 minutes; now it goes at once
    assert Notification.objects.get(channel="voice").status == "sent"


def test_a_forged_status_callback_changes_nothing(tenant, responder, twilio, client):
    _incident, row = paged(tenant, responder, "sms", NUMBER)
    response = twilio_post(client, f"/notifications/twilio/status/{row.token}",
                           {"MessageSid": row.provider_id, "MessageStatus": "delivered"}, signature="nope")
    assert response.status_code == 403
    assert Notification.objects.get(pk=row.pk).status == "sent"


# --- voice ---------------------------------------------------------------------------------------


def test_the_call_reads_the_incident_and_offers_the_keypad_menu(tenant, responder, twilio, client):
    incident, row = paged(tenant, responder, "voice", NUMBER, summary="Checkout is failing")
    response = twilio_post(client, f"/notifications/twilio/voice/{row.token}", {"CallSid": row.provider_id})
    twiml = response.content.decode()
    assert response.status_code == 200
    assert (f'<Gather action="https://ilert.example.com/notifications/twilio/voice/{row.token}/gather" '
            'method="POST" numDigits="1" timeout="8">') in twiml
    assert f"number {incident.number}" in twiml and "Checkout is failing" in twiml
    assert "Press 1 to accept, 2 to resolve, 3 to escalate, or star to repeat." in twiml


@pytest.mark.parametrize("digit,status,word", [("1", "ACCEPTED", "accepted"), ("2", "RESOLVED", "resolved"),
                                                ("3", "PENDING", "escalated")])
def test_keypresses_accept_resolve_or_escalate(tenant, responder, twilio, client, digit, status, word):
    incident, row = paged(tenant, responder, "voice", NUMBER)
    response = twilio_post(client, f"/notifications/twilio/voice/{row.token}/gather",
                           {"CallSid": row.provider_id, "Digits": digit})
    assert f"#{incident.number} {word}. Goodbye." in response.content.decode()
    assert "<Hangup />" in response.content.decode()
    assert status_of(incident) == status
    assert incident.log_entries.filter(via="voice", actor=responder).exists()


def test_star_repeats_the_message(tenant, responder, twilio, client):
    incident, row = paged(tenant, responder, "voice", NUMBER)
    response = twilio_post(client, f"/notifications/twilio/voice/{row.token}/gather", {"Digits": "*"})
    assert "<Gather" in response.content.decode() and status_of(incident) == "PENDING"


def test_voicemail_hangs_up_and_changes_nothing(tenant, responder, twilio, client):
    incident, row = paged(tenant, responder, "voice", NUMBER)
    response = twilio_post(client, f"/notifications/twilio/voice/{row.token}", {"AnsweredBy": "machine_start"})
    assert "<Hangup />" in response.content.decode() and "<Gather" not in response.content.decode()
    twilio_post(client, f"/notifications/twilio/status/{row.token}",
                {"CallSid": row.provider_id, "CallStatus": "no-answer"})
    assert status_of(incident) == "PENDING"
    assert incident.log_entries.filter(message__contains="not answered (no-answer)").exists()


def test_a_forged_gather_webhook_is_refused_and_changes_nothing(tenant, responder, twilio, client):
    incident, row = paged(tenant, responder, "voice", NUMBER)
    path = f"/notifications/twilio/voice/{row.token}/gather"
    assert twilio_post(client, path, {"Digits": "1"}, signature="forged").status_code == 403
    assert twilio_post(client, path, {"Digits": "1"}, signature="").status_code == 403
    assert twilio_post(client, path, {"Digits": "1"}, token="someone-elses-token").status_code == 403
    assert status_of(incident) == "PENDING"


# --- push ----------------------------------------------------------------------------------------


def test_the_push_action_endpoint_accepts_with_the_signed_token(tenant, responder, client):
    incident, row = paged(tenant, responder, "push")
    token = DevMessage.objects.get(channel="push").meta["push_action_token"]
    response = client.post("/notifications/push/action", {"token": token, "action": "accept"},
                           content_type="application/json")
    assert response.status_code == 200 and response.json()["message"] == f"#{incident.number} accepted."
    assert status_of(incident) == "ACCEPTED"
    assert incident.log_entries.filter(kind="accepted", via="push", actor=responder).exists()


def test_a_forged_or_expired_push_token_is_refused(tenant, responder, client, settings):
    incident, row = paged(tenant, responder, "push")
    forged = signing.dumps({"n": row.pk}, salt="something-else")
    assert client.post("/notifications/push/action", {"token": forged, "action": "accept"},
                       content_type="application/json").status_code == 403
    token = tokens.push_action_token(row)
    settings.NOTIFICATION_ACTION_MAX_AGE_SECONDS = -1
    assert client.post("/notifications/push/action", {"token": token, "action": "accept"},
                       content_type="application/json").status_code == 403
    assert client.post("/notifications/push/action", "[1]", content_type="application/json").status_code == 400
    assert status_of(incident) == "PENDING"


# --- email ---------------------------------------------------------------------------------------


def test_an_email_link_shows_a_confirmation_on_get_and_acts_only_on_post(tenant, responder, client):
    incident, row = paged(tenant, responder, "email")
    path = "/notifications/email/" + tokens.email_action_token(row, "resolve")
    page = client.get(path)  # what a mail scanner prefetching links does
    assert page.status_code == 200 and f"Resolve #{incident.number}" in page.content.decode()
    assert status_of(incident) == "PENDING"
    done = client.post(path)
    assert done.status_code == 200 and f"#{incident.number} resolved." in done.content.decode()
    assert status_of(incident) == "RESOLVED"
    assert incident.log_entries.filter(kind="resolved", via="email", actor=responder).exists()


def test_an_expired_or_tampered_email_link_does_nothing(tenant, responder, client, settings):
    incident, row = paged(tenant, responder, "email")
    token = tokens.email_action_token(row, "accept")
    assert client.post("/notifications/email/" + token[:-2] + "xx").status_code == 404
    settings.NOTIFICATION_ACTION_MAX_AGE_SECONDS = -1
    assert client.post("/notifications/email/" + token).status_code == 404
    assert status_of(incident) == "PENDING"


MAILGUN_KEY = "mailgun-signing-key"


def mailgun_inbound(client, *, recipient, sender, body, headers=(), key=MAILGUN_KEY):
    timestamp, token = str(int(time.time())), secrets.token_hex(25)  # Mailgun: a new token per delivery
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    message_headers = [["From", sender], ["To", recipient], ["Subject", "Re: [ilert] incident"], *headers]
    return client.post("/anymail/mailgun/inbound/", {
        "recipient": recipient, "sender": sender, "from": sender, "subject": "Re: [ilert] incident",
        "body-plain": body, "stripped-text": body.split("\n>")[0], "message-headers": json.dumps(message_headers),
        "timestamp": timestamp, "token": token, "signature": signature,
    }, HTTP_AUTHORIZATION="Basic " + __import__("base64").b64encode(b"anymail:secret").decode())


@pytest.fixture
def mailgun(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY, "WEBHOOK_SECRET": "anymail:secret"}


def test_replying_accept_to_a_notification_email_accepts(tenant, responder, client, mailgun):
    incident, row = paged(tenant, responder, "email", "rita@pager.example.com")
    response = mailgun_inbound(client, recipient=f"reply+{row.token}@in.ilert.example.com",
                               sender="Rita <rita@pager.example.com>", body="Accept\n\n> the page we sent")
    assert response.status_code == 200
    assert status_of(incident) == "ACCEPTED"
    assert incident.log_entries.filter(kind="accepted", via="email", actor=responder).exists()


def test_a_reply_found_by_in_reply_to_resolves(tenant, responder, client, mailgun):
    incident, row = paged(tenant, responder, "email", "rita@pager.example.com")
    mailgun_inbound(client, recipient="alerts@ilert.example.com", sender="rita@pager.example.com",
                    body="resolve\nthanks", headers=[["In-Reply-To", tokens.message_id(row)]])
    assert status_of(incident) == "RESOLVED"


def test_an_inbound_email_with_a_bad_signature_changes_nothing(tenant, responder, client, mailgun):
    incident, row = paged(tenant, responder, "email", "rita@pager.example.com")
    response = mailgun_inbound(client, recipient=f"reply+{row.token}@in.ilert.example.com",
                               sender="rita@pager.example.com", body="accept", key="wrong-key")
    assert response.status_code == 400
    assert status_of(incident) == "PENDING"


def test_replies_from_unverified_senders_and_other_mail_are_ignored(tenant, responder, client, mailgun):
    incident, row = paged(tenant, responder, "email", "rita@pager.example.com")
    mailgun_inbound(client, recipient=f"reply+{row.token}@in.ilert.example.com", sender="mallory@evil.example",
                    body="accept")
    # mail to an email alert source address (another app's receiver) is not ours, even if it quotes a page
    from tests.alerts.factories import make_source

    source = make_source(tenant, integration_type="email")
    mailgun_inbound(client, recipient=f"{source.integration_key}@in.ilert.example.com",
                    sender="rita@pager.example.com", body="accept", headers=[["In-Reply-To", tokens.message_id(row)]])
    mailgun_inbound(client, recipient="reply+notatoken@in.ilert.example.com", sender="rita@pager.example.com",
                    body="accept")
    assert status_of(incident) == "PENDING"


def test_a_call_answered_by_voicemail_is_recorded_and_changes_nothing(tenant, responder, twilio, client):
    incident, row = paged(tenant, responder, "voice", NUMBER)
    twilio_post(client, f"/notifications/twilio/status/{row.token}",
                {"CallSid": row.provider_id, "CallStatus": "completed", "AnsweredBy": "machine_end_beep"})
    assert Notification.objects.get(pk=row.pk).status == "sent"
    assert incident.log_entries.filter(message__contains="not answered (voicemail)").exists()
    assert status_of(incident) == "PENDING"


def test_another_organisations_twilio_account_cannot_answer_for_this_one(tenant, other_tenant, outsider, responder,
                                                                          twilio, client, http):
    own_sid = "AC" + "9" * 32
    twilio.add_account(own_sid, "globex-token", numbers=["+4930123456789"])
    services.save_provider_settings(other_tenant, by=outsider, twilio_account_sid=own_sid,
                                    twilio_auth_token="globex-token", twilio_from_number="+4930123456789")
    incident, row = paged(tenant, responder, "voice", NUMBER)
    forged = twilio_post(client, f"/notifications/twilio/voice/{row.token}/gather", {"Digits": "2"},
                         token="globex-token", account_sid=own_sid)
    assert forged.status_code == 403 and status_of(incident) == "PENDING"


def test_mail_that_matches_no_source_and_no_reply_is_rejected_and_logged(tenant, client, mailgun, caplog):
    import logging

    from alerts.models import Incident

    caplog.set_level(logging.WARNING)
    response = mailgun_inbound(client, recipient="nobody-here@in.ilert.example.com", sender="spam@example.org",
                               body="buy now")
    assert response.status_code == 200  # the ESP must not retry it forever
    rejected = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert rejected and "spam@example.org" in rejected[0] and "no alert source" in rejected[0]
    assert not Incident.objects.exists()



def test_a_reply_in_a_charset_python_does_not_know_still_acts(tenant, responder, client, mailgun):
    """A body part the standard library cannot decode is read as UTF-8 (ilert/inbound_mail.py)."""
    incident, row = paged(tenant, responder, "email", "rita@pager.example.com")
    mime = (f"From: rita@pager.example.com\r\nTo: reply+{row.token}@in.ilert.example.com\r\nSubject: Re: page\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=x-unknown-charset\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nYWNjZXB0Cg==\r\n")  # "accept"
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    signature = hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    response = client.post("/anymail/mailgun/inbound_mime/", {
        "recipient": f"reply+{row.token}@in.ilert.example.com", "body-mime": mime, "timestamp": timestamp,
        "token": token, "signature": signature}, HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"anymail:secret").decode())
    assert response.status_code == 200, response.content
    assert status_of(incident) == "ACCEPTED"


def test_a_reply_whose_body_cannot_be_decoded_is_answered_200_and_changes_nothing(tenant, responder, client,
                                                                                  mailgun):
    incident, row = paged(tenant, responder, "email", "rita@pager.example.com")
    to = f"reply+{row.token}@in.ilert.example.com"
    body = {"FromFull": {"Email": "rita@pager.example.com", "Name": ""}, "ToFull": [{"Email": to}],
            "Subject": "Re: page", "TextBody": {}, "Headers": [], "OriginalRecipient": to, "MessageID": "m-1"}
    response = client.post("/anymail/postmark/inbound/", json.dumps(body), content_type="application/json",
                           HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"anymail:secret").decode())
    assert response.status_code == 200, response.content
    assert status_of(incident) == "PENDING"


# --- NUL (0x00) in Twilio parameters: PostgreSQL text cannot hold it ---------------------------------


def test_nul_characters_in_signed_twilio_parameters_are_dropped(tenant, responder, twilio, client):
    incident, _row = paged(tenant, responder, "sms", NUMBER)
    response = twilio_post(client, "/notifications/twilio/sms",
                           {"From": NUMBER + "\x00", "Body": "1\x00a", "MessageSid": "SM\x00" + "1" * 32})
    assert response.status_code == 200, response.content
    assert f"#{incident.number} accepted." in response.content.decode()
    assert status_of(incident) == "ACCEPTED"


def test_a_status_callback_with_nul_characters_is_recorded_without_them(tenant, responder, twilio, client):
    incident, row = paged(tenant, responder, "sms", NUMBER)
    response = twilio_post(client, f"/notifications/twilio/status/{row.token}",
                           {"MessageSid": row.provider_id + "\x00", "MessageStatus": "undelivered\x00",
                            "ErrorCode": "300\x0003"})
    assert response.status_code == 204
    row.refresh_from_db()
    assert row.status == "failed" and "\x00" not in row.provider_id


def test_a_keypress_with_nul_characters_acts_once(tenant, responder, twilio, client):
    incident, row = paged(tenant, responder, "voice", NUMBER)
    path = f"/notifications/twilio/voice/{row.token}/gather"
    params = {"CallSid": "CA\x00" + "2" * 32, "Digits": "1\x00"}
    assert twilio_post(client, path, params).status_code == 200
    assert "already answered" in twilio_post(client, path, params).content.decode()
    assert status_of(incident) == "ACCEPTED"
    answered = twilio_post(client, f"/notifications/twilio/voice/{row.token}", {"AnsweredBy": "machine\x00"})
    assert "<Hangup />" in answered.content.decode()


@pytest.mark.parametrize("path", ["sms", "status/{token}", "voice/{token}", "voice/{token}/gather"])
def test_an_unsigned_twilio_webhook_naming_an_account_with_a_nul_is_refused(tenant, responder, twilio, client,
                                                                           path):
    incident, row = paged(tenant, responder, "voice", NUMBER)
    response = twilio_post(client, "/notifications/twilio/" + path.format(token=row.token),
                           {"Digits": "1", "From": NUMBER, "Body": "1a"}, account_sid=SID + "\x00", signature="x")
    assert response.status_code == 403
    assert status_of(incident) == "PENDING"


def test_a_push_action_token_acts_once(tenant, responder, client):
    """A captured push action sent again must not escalate again and again (review of issue 13)."""
    incident, row = paged(tenant, responder, "push")
    token = DevMessage.objects.get(channel="push").meta["push_action_token"]
    first = client.post("/notifications/push/action", {"token": token, "action": "escalate"},
                        content_type="application/json")
    assert first.status_code == 200
    steps = incident.log_entries.filter(kind="escalation_requested").count()
    again = client.post("/notifications/push/action", {"token": token, "action": "escalate"},
                        content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "already_taken"
    assert incident.log_entries.filter(kind="escalation_requested").count() == steps == 1
