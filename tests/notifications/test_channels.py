"""Each channel with its real library (twilio, firebase-admin, Django/anymail email), intercepted at
the HTTP layer: what the library actually sends is what is asserted."""

import json

import pytest
from django.core import mail

from notifications import engine, providers, services
from notifications.models import Notification
from notifications.text import fit_sms, sms_segments

from .conftest import FROM, SID, SITE, own_twilio
from .factories import make_method, make_rule, open_incident

pytestmark = pytest.mark.django_db


def page_by(tenant, user, kind, address=None, **incident_fields):
    method = make_method(user, kind, address)
    make_rule(user, method, incident_fields.get("priority", "HIGH"), 0)
    incident = open_incident(tenant, **incident_fields)
    services.notify(incident, user, round_tag="r1")
    engine.dispatch()
    return incident, Notification.objects.get(incident=incident)


def test_sms_goes_through_twilios_messaging_api(tenant, responder, twilio):
    incident, row = page_by(tenant, responder, "sms", "+4915112345678", summary="Disk full on db-1")
    (create,) = twilio.creates("Messages")
    params = create["params"]
    assert params["To"] == "+4915112345678" and params["From"] == FROM
    assert params["Body"] == (f"ilert #{incident.number} HIGH: Disk full on db-1 [{incident.alert_source.name}]. "
                              "Reply 1a to accept, 1r to resolve, 1e to escalate")
    assert params["StatusCallback"] == f"{SITE}/notifications/twilio/status/{row.token}"
    assert row.status == "sent" and row.provider == "twilio" and row.provider_account == SID


def test_a_long_summary_is_cut_to_two_gsm_segments(tenant, responder, twilio):
    page_by(tenant, responder, "sms", summary="Replication lag on the primary database cluster " * 12)
    body = twilio.sms[0]["body"]
    assert sms_segments(body) == ("GSM-7", 2) and len(body) <= 306
    assert "... [" in body and body.endswith("Reply 1a to accept, 1r to resolve, 1e to escalate")


def test_a_unicode_summary_is_cut_to_two_ucs2_segments(tenant, responder, twilio):
    page_by(tenant, responder, "sms", summary="🔥 Überlast im Rechenzentrum 東京 " * 10)
    body = twilio.sms[0]["body"]
    encoding, segments = sms_segments(body)
    assert encoding == "UCS-2" and segments <= 2 and "1a to accept" in body


def test_segment_arithmetic():
    assert sms_segments("a" * 160) == ("GSM-7", 1)
    assert sms_segments("a" * 161) == ("GSM-7", 2)
    assert sms_segments("€" * 80) == ("GSM-7", 1)  # extension characters take two septets
    assert sms_segments("€" * 81) == ("GSM-7", 2)
    assert sms_segments("ü" * 160) == ("GSM-7", 1)
    assert sms_segments("ş" * 70) == ("UCS-2", 1) and sms_segments("ş" * 71) == ("UCS-2", 2)
    assert fit_sms("a: ", "“quoted” – dash", "") == "a: \"quoted\" - dash"  # typography kept GSM-7


def test_voice_calls_ask_twilio_to_fetch_our_twiml(tenant, responder, twilio):
    _incident, row = page_by(tenant, responder, "voice", "+4915112345678")
    (create,) = twilio.creates("Calls")
    params = create["params"]
    assert params["To"] == "+4915112345678" and params["From"] == FROM
    assert params["Url"] == f"{SITE}/notifications/twilio/voice/{row.token}" and params["Method"] == "POST"
    assert params["MachineDetection"] == "Enable"
    assert params["StatusCallback"] == f"{SITE}/notifications/twilio/status/{row.token}"
    assert row.provider_id == twilio.calls[0]["sid"]


def test_tenants_may_bring_their_own_twilio_account(tenant, admin, responder, twilio, http):
    own_sid = "AC" + "f" * 32
    own_twilio(tenant, admin, twilio, sid=own_sid, token="tenant-token", number="+4930123456789")
    page_by(tenant, responder, "sms")
    (create,) = twilio.creates("Messages")
    assert create["account_sid"] == own_sid and create["params"]["From"] == "+4930123456789"
    assert http.calls[0].request.headers["Authorization"].startswith("Basic ")
    stored = providers.ProviderSettings.objects.get(tenant=tenant)
    assert "tenant-token" not in stored.twilio_auth_token_encrypted and stored.twilio_auth_token == "tenant-token"


def test_push_goes_through_fcm_with_actions_and_a_critical_alert_for_high(tenant, responder, fcm):
    incident, row = page_by(tenant, responder, "push", summary="API down")
    (sent,) = fcm.sent
    assert sent["headers"]["Authorization"] == "Bearer ya29.fake"
    message = sent["payload"]["message"]
    assert message["token"] == row.address
    assert message["notification"] == {"title": f"#{incident.number} HIGH · {incident.alert_source.name}",
                                       "body": "API down"}
    data = message["data"]
    assert data["incident_id"] == str(incident.pk) and data["actions"] == "accept,resolve,escalate"
    assert data["action_url"] == f"{SITE}/notifications/push/action" and data["action_token"]
    aps = message["apns"]["payload"]["aps"]
    assert aps["category"] == "ILERT_INCIDENT"
    assert aps["sound"] == {"critical": 1, "name": "default", "volume": 1.0}
    assert aps["interruption-level"] == "critical"
    assert message["apns"]["headers"]["apns-collapse-id"] == row.token
    android = message["android"]
    assert android["priority"] == "high" and android["notification"]["click_action"] == "ILERT_INCIDENT"
    assert android["notification"]["tag"] == row.token
    assert row.status == "sent" and row.provider_id.startswith("projects/ilert-test/messages/")


def test_low_priority_push_is_not_critical(tenant, responder, fcm):
    page_by(tenant, responder, "push", priority="LOW")
    aps = fcm.sent[0]["payload"]["message"]["apns"]["payload"]["aps"]
    assert aps["sound"] == "default" and aps["interruption-level"] == "active"


def test_email_has_a_text_and_an_html_part_with_signed_links_and_a_reply_address(tenant, responder, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    incident, row = page_by(tenant, responder, "email", "rita@pager.example.com", summary="Queue backlog")
    (message,) = mail.outbox
    assert message.to == ["rita@pager.example.com"]
    assert message.subject == f"[ilert] #{incident.number} HIGH: Queue backlog"
    assert message.reply_to == [f"reply+{row.token}@in.ilert.example.com"]
    assert message.extra_headers["Message-ID"] == f"<ilert.{row.token}@in.ilert.example.com>"
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "Queue backlog" in html
    assert f"{SITE}/notifications/email/" in message.body and "Accept:" in message.body
    assert 'reply to this email with "accept", "resolve" or "escalate"' in message.body
    assert row.status == "sent" and row.provider == "anymail"


def test_email_through_an_esp_backend_makes_the_esps_api_call(tenant, responder, settings, http):
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {"MAILGUN_API_KEY": "key-test", "MAILGUN_SENDER_DOMAIN": "mg.example.com"}
    http.add("POST", "https://api.mailgun.net/v3/mg.example.com/messages",
             json={"id": "<20260101.1@mg.example.com>", "message": "Queued. Thank you."})
    _incident, row = page_by(tenant, responder, "email", "rita@pager.example.com")
    request = http.calls[-1].request
    from urllib.parse import parse_qs

    form = parse_qs(request.body.decode() if isinstance(request.body, bytes) else request.body)
    assert form["to"] == ["rita@pager.example.com"]
    assert form["h:Reply-To"] == [f"reply+{Notification.objects.get().token}@in.ilert.example.com"]
    assert form["text"][0].startswith("#") and "<html>" in form["html"][0]
    assert row.provider_id == "<20260101.1@mg.example.com>"


def test_an_esp_refusing_the_recipient_fails_permanently(tenant, responder, settings, http):
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {"MAILGUN_API_KEY": "key-test", "MAILGUN_SENDER_DOMAIN": "mg.example.com"}
    http.add("POST", "https://api.mailgun.net/v3/mg.example.com/messages", status=400,
             body=json.dumps({"message": "'to' parameter is not a valid address."}))
    _incident, row = page_by(tenant, responder, "email", "rita@pager.example.com")
    row.refresh_from_db()
    assert row.status == "failed" and "400" in row.error
