"""Inbound email alert sources through django-anymail's inbound webhooks (Mailgun, SendGrid,
Postmark), with each ESP's own payload format and its real signature / basic auth."""

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid

import pytest
from anymail.signals import inbound
from django.test import Client

from alerts import services
from alerts.integrations import email as email_intake
from alerts.integrations.email import address_for
from alerts.models import Incident

from .factories import make_source

DOMAIN = "alerts.example.com"
SIGNING_KEY = "mailgun-signing-key-for-tests"
SECRET = "anymail:webhook-secret"
BASIC = "Basic " + base64.b64encode(SECRET.encode()).decode()


@pytest.fixture(autouse=True)
def inbound_settings(settings):
    settings.INBOUND_EMAIL_DOMAIN = DOMAIN
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="Mailbox", integration_type="email", default_priority="LOW")


def mailgun(to, subject="Disk full on db-1", text="Only 2% left.", sender="nagios@example.com", *, key=SIGNING_KEY,
            html=None, **extra):
    timestamp, token = str(int(time.time())), secrets.token_hex(25)  # Mailgun: a new token per delivery
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    headers = [["From", f"Nagios <{sender}>"], ["To", to], ["Subject", subject], ["Message-Id", "<m1@example.com>"]]
    data = {"recipient": to, "sender": sender, "from": sender, "subject": subject, "body-plain": text,
            "timestamp": timestamp, "token": token, "signature": signature, "message-headers": json.dumps(headers)}
    if html is not None:
        data["body-html"] = html
        if not text:
            del data["body-plain"]
    extra.setdefault("HTTP_AUTHORIZATION", BASIC)  # basic auth too, when WEBHOOK_SECRET is set
    return Client().post("/anymail/mailgun/inbound/", data, **extra)


def sendgrid(to, subject="Disk full", text="2% left", sender="zabbix@example.com", auth=BASIC):
    headers = f"From: Zabbix <{sender}>\nTo: {to}\nSubject: {subject}\nMessage-ID: <s1@example.com>\n"
    data = {"headers": headers, "text": text, "from": f"Zabbix <{sender}>", "to": to, "subject": subject,
            "envelope": json.dumps({"to": [to], "from": sender}), "charsets": json.dumps({"text": "UTF-8"})}
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return Client().post("/anymail/sendgrid/inbound/", data, **extra)


def postmark(to, subject="Disk full", text="", html="<p>Only <b>2%</b> left</p>", sender="pm@example.com",
             auth=BASIC):
    body = {"FromFull": {"Email": sender, "Name": "Monitor"}, "ToFull": [{"Email": to, "Name": ""}],
            "Subject": subject, "TextBody": text, "HtmlBody": html, "Headers": [], "OriginalRecipient": to,
            "MessageID": str(uuid.uuid4())}  # Postmark: one id per inbound message
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return Client().post("/anymail/postmark/inbound/", json.dumps(body), content_type="application/json", **extra)


def test_every_email_source_has_an_address_at_the_inbound_domain(source):
    assert address_for(source) == f"{source.integration_key}@{DOMAIN}"


def test_a_signed_mailgun_mail_opens_an_incident(source):
    response = mailgun(address_for(source))
    assert response.status_code == 200, response.content
    incident = Incident.objects.get()
    assert (incident.summary, incident.details, incident.priority) == ("Disk full on db-1", "Only 2% left.", "LOW")
    assert incident.labels == {"from": "nagios@example.com"}
    assert incident.log_entries.filter(via="email").exists()


def test_a_forged_mailgun_signature_changes_nothing(source):
    assert mailgun(address_for(source), key="wrong-key").status_code == 400
    assert not Incident.objects.exists()


def test_sendgrid_needs_the_basic_auth_secret(source):
    assert sendgrid(address_for(source), auth=None).status_code == 400
    assert sendgrid(address_for(source), auth="Basic " + base64.b64encode(b"anymail:guess").decode()).status_code == 400
    assert not Incident.objects.exists()
    assert sendgrid(address_for(source)).status_code == 200
    assert Incident.objects.get().summary == "Disk full"


def test_postmark_html_only_mail_is_stripped_to_text(source):
    assert postmark(address_for(source)).status_code == 200
    details = Incident.objects.get().details
    assert "Only **2%** left" in details and "<p>" not in details


def test_an_endpoint_without_a_configured_secret_refuses_everything(source, settings):
    settings.ANYMAIL = {}
    assert postmark(address_for(source)).status_code == 403
    assert mailgun(address_for(source)).status_code == 403
    assert not Incident.objects.exists()


def test_rules_extract_the_key_and_resolve(source):
    services.update_alert_source(source, options={
        "key_regex": r"Host (\S+) is", "resolve_regex": r"^RECOVERY", "allowed_senders": "nagios@example.com"})
    mailgun(address_for(source), subject="PROBLEM: Host db-1 is DOWN")
    mailgun(address_for(source), subject="PROBLEM: Host db-1 is DOWN")
    incident = Incident.objects.get()
    assert incident.incident_key == "db-1" and incident.event_count == 2
    mailgun(address_for(source), subject="RECOVERY: Host db-1 is UP")
    incident.refresh_from_db()
    assert incident.status == "RESOLVED"


def test_a_resolve_mail_without_a_key_is_rejected_and_logged(source, caplog):
    services.update_alert_source(source, options={"resolve_regex": "RECOVERY"})
    with caplog.at_level(logging.WARNING, logger="alerts.integrations.email"):
        assert mailgun(address_for(source), subject="RECOVERY everything").status_code == 200
    assert not Incident.objects.exists() and "no incident key" in caplog.text


def test_senders_outside_the_allow_list_are_rejected_and_logged(source, caplog):
    services.update_alert_source(source, options={"allowed_senders": ["@monitoring.example.com"]})
    with caplog.at_level(logging.WARNING, logger="alerts.integrations.email"):
        assert mailgun(address_for(source), sender="mallory@evil.example").status_code == 200
    assert not Incident.objects.exists()
    assert "not allowed" in caplog.text and source.integration_key not in caplog.text
    mailgun(address_for(source), sender="alerts@eu.monitoring.example.com")
    assert Incident.objects.count() == 1


def test_mail_to_a_disabled_source_is_rejected_and_logged(tenant, caplog):
    source = make_source(tenant, integration_type="email", status="disabled")
    with caplog.at_level(logging.WARNING, logger="alerts.integrations.email"):
        mailgun(address_for(source))
    assert not Incident.objects.exists() and "disabled" in caplog.text


def test_mail_not_for_an_alert_source_is_left_to_other_receivers(tenant, caplog):
    """The notifications app receives its email replies through the same signal: alerts neither
    acts on nor rejects mail that is not addressed to an email alert source."""
    api_source = make_source(tenant, integration_type="api")
    seen = []

    def other_receiver(sender, event, esp_name, **kwargs):
        seen.append(event.message.subject)

    inbound.connect(other_receiver, dispatch_uid="test-other-receiver")
    try:
        with caplog.at_level(logging.DEBUG, logger="alerts.integrations.email"):
            for to in ("reply+abc123@" + DOMAIN, f"{api_source.integration_key}@{DOMAIN}",
                       f"{api_source.integration_key}@other.example", "someone@example.com"):
                assert mailgun(to, subject=f"Re: {to}").status_code == 200
    finally:
        inbound.disconnect(dispatch_uid="test-other-receiver")
    assert not Incident.objects.exists()
    assert len(seen) == 4
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("alerts")]


@pytest.mark.parametrize("options", [{"key_regex": "(unclosed"}, {"resolve_regex": 5},
                                     {"allowed_senders": ["not an address"]}, {"allowed_senders": 7}])
def test_bad_rules_are_refused(source, options):
    from ilert.errors import DomainError

    with pytest.raises(DomainError):
        services.update_alert_source(source, options=options)


def test_malformed_esp_payloads_get_400(source):
    response = Client().post("/anymail/postmark/inbound/", "[1]", content_type="application/json",
                             HTTP_AUTHORIZATION=BASIC)
    assert response.status_code == 400
    response = Client().post("/anymail/sendgrid/inbound/", {"nothing": "here"}, HTTP_AUTHORIZATION=BASIC)
    assert response.status_code == 400
    assert not Incident.objects.exists()


def test_over_the_rate_limit_the_esp_is_told_to_retry(source, settings):
    settings.INGEST_RATE_LIMIT = "1/minute"
    assert mailgun(address_for(source)).status_code == 200
    limited = mailgun(address_for(source))
    assert limited.status_code == 429 and limited["Retry-After"]
    assert Incident.objects.get().event_count == 1


def test_mailgun_works_with_only_its_signing_key(source, settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    assert mailgun(address_for(source), HTTP_AUTHORIZATION="").status_code == 200
    assert mailgun(address_for(source), key="forged", HTTP_AUTHORIZATION="").status_code == 400
    assert Incident.objects.count() == 1


@pytest.mark.timeout(120)  # a hang backstop only: the rule never finishes, so only its time limit ends it
def test_a_catastrophic_rule_on_a_long_mail_gives_up_quickly_and_says_so(source, caplog):
    """Tenant-supplied rules run with a time limit per match: `(a+)+$` on "aaaa…b" would take
    longer than the universe with backtracking; it counts as no match and a warning is logged.
    "Quickly" is the configured limit, read from what the code says it used (a stopwatch around the
    request would measure the machine)."""
    services.update_alert_source(source, options={"key_regex": r"(a+)+$", "resolve_regex": r"(a+)+$"})
    with caplog.at_level(logging.WARNING, logger="alerts.integrations.email"):
        response = mailgun(address_for(source), subject="Disk full", text="a" * 19_999 + "b")
    assert response.status_code == 200
    limit = email_intake.MATCH_TIMEOUT
    assert limit <= 0.5 and caplog.text.count(f"took too long (over {limit} s)") == 2
    incident = Incident.objects.get()  # an ALERT (the resolve rule did not match), with a generated key
    assert incident.status == "PENDING" and len(incident.incident_key) == 32
    assert "took too long" in caplog.text and "key_regex" in caplog.text and "resolve_regex" in caplog.text


@pytest.mark.parametrize("fold", [str.lower, str.upper])
def test_an_address_whose_case_a_mail_server_folded_still_reaches_its_source(source, fold):
    """Mail servers may change the case of the local part; the key is mixed-case, so the address is
    matched ignoring case (by a hash of the lowercased key: the key itself is never queried)."""
    key = source.integration_key
    assert key.lower() != key and key.upper() != key
    for send in (mailgun, sendgrid, postmark):
        assert send(f"{fold(key)}@{DOMAIN.upper()}").status_code == 200
    assert Incident.objects.filter(alert_source=source).count() == 3  # one per mail (no key rule)


def test_a_folded_address_finds_only_email_sources_and_a_regenerated_key_replaces_the_old_one(tenant, source):
    api = make_source(tenant, integration_type="api")
    assert mailgun(f"{api.integration_key.lower()}@{DOMAIN}").status_code == 200
    old = source.integration_key
    services.regenerate_integration_key(source)
    assert mailgun(f"{old.lower()}@{DOMAIN}").status_code == 200
    assert not Incident.objects.exists()
    assert mailgun(f"{source.integration_key.lower()}@{DOMAIN}").status_code == 200
    assert Incident.objects.get().alert_source == source


# --- bodies the standard library cannot read ----------------------------------------------------
# A body part that cannot be decoded is unreadable, not a reason to refuse the mail: the alert is
# made from what can be read (the other body, the subject) and the ESP gets its 200 (a 4xx or 5xx
# would only make it retry the same mail for days).


def raw_mime(to, charset, payload, encoding="8bit", subject="Disk full"):
    return (f"From: Monitor <pm@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
            + payload)


def postmark_raw(to, raw):
    body = {"FromFull": {"Email": "pm@example.com", "Name": ""}, "ToFull": [{"Email": to, "Name": ""}],
            "Subject": "Disk full", "Headers": [], "OriginalRecipient": to, "MessageID": str(uuid.uuid4()),
            "RawEmail": raw}
    return Client().post("/anymail/postmark/inbound/", json.dumps(body), content_type="application/json",
                         HTTP_AUTHORIZATION=BASIC)


def test_a_text_body_the_standard_library_cannot_decode_falls_back_to_the_html_body(source):
    """Postmark's TextBody as an empty object: the stdlib's get_payload fails on it (an
    UnboundLocalError inside email.message)."""
    body = {"FromFull": {"Email": "pm@example.com", "Name": ""}, "ToFull": [{"Email": address_for(source)}],
            "Subject": "Disk full", "TextBody": {}, "HtmlBody": "<p>Only <b>2%</b> left</p>", "Headers": [],
            "OriginalRecipient": address_for(source), "MessageID": str(uuid.uuid4())}
    response = Client().post("/anymail/postmark/inbound/", json.dumps(body), content_type="application/json",
                             HTTP_AUTHORIZATION=BASIC)
    assert response.status_code == 200, response.content
    incident = Incident.objects.get()
    assert incident.summary == "Disk full" and "Only **2%** left" in incident.details


def test_mail_with_no_readable_body_still_alerts_with_its_subject(source):
    body = {"FromFull": {"Email": "pm@example.com", "Name": ""}, "ToFull": [{"Email": address_for(source)}],
            "Subject": "Disk full", "TextBody": {}, "HtmlBody": {}, "Headers": [],
            "OriginalRecipient": address_for(source), "MessageID": str(uuid.uuid4())}
    response = Client().post("/anymail/postmark/inbound/", json.dumps(body), content_type="application/json",
                             HTTP_AUTHORIZATION=BASIC)
    assert response.status_code == 200, response.content
    incident = Incident.objects.get()
    assert (incident.summary, incident.details) == ("Disk full", "")


@pytest.mark.parametrize("charset, encoding, payload, details", [
    ("x-unknown-charset", "base64", base64.b64encode(b"Only 2% left").decode(), "Only 2% left"),
    ("rot13", "8bit", "Only 2% left", "Only 2% left"),  # a codec, but not a text encoding
    ("idna", "quoted-printable", "Only 2% left =E2=82=AC", "Only 2% left €"),  # no "replace" errors
])
def test_a_body_in_a_charset_python_cannot_use_is_read_as_utf8(source, charset, encoding, payload, details):
    response = postmark_raw(address_for(source), raw_mime(address_for(source), charset, payload, encoding))
    assert response.status_code == 200, response.content
    incident = Incident.objects.get()
    assert incident.summary == "Disk full" and incident.details.strip() == details


def test_a_postmark_message_id_with_a_nul_character_is_still_taken_once(source):
    """PostgreSQL text cannot hold NUL (0x00): the id is remembered without it."""
    body = {"FromFull": {"Email": "pm@example.com", "Name": ""}, "ToFull": [{"Email": address_for(source)}],
            "Subject": "Disk full", "TextBody": "2% left", "Headers": [], "OriginalRecipient": address_for(source),
            "MessageID": "id-\x00-1"}
    for _ in range(2):
        response = Client().post("/anymail/postmark/inbound/", json.dumps(body), content_type="application/json",
                                 HTTP_AUTHORIZATION=BASIC)
        assert response.status_code == 200, response.content
    assert Incident.objects.get().event_count == 1
