"""The whole loop through real processes: an Event API POST to the real web server opens an incident;
a real Celery worker (on Redis and PostgreSQL) hands the SMS to a fake Twilio HTTP server on
127.0.0.1 through the real twilio library; a reply webhook signed with twilio's RequestValidator
accepts the incident; no further page goes out.
The escalation engine in the worker pages Rita, level 1 of the source's policy.
"""

import httpx
import pytest
from django.conf import settings
from django.db import connection
from twilio.request_validator import RequestValidator

from alerts.models import Incident
from ilert import clock
from notifications.models import Notification
from tests.alerts.factories import make_source
from tests.escalation.factories import make_policy
from tests.factories import TenantFactory, UserFactory
from tests.notifications.factories import make_method, make_rule
from tests.notifications.fakes import FakeTwilio, FakeTwilioServer

from .stack import Stack, database_url_of
from .workers import wait_for, wait_for_a_whole_sweep

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SID, TOKEN, FROM, NUMBER = "AC" + "e2e0" * 8, "e2e-auth-token", "+15005550006", "+4915112345678"


def test_event_page_signed_reply_accepted_and_no_further_pages(tmp_path):
    tenant = TenantFactory(name="E2E", slug="e2e")
    rita = UserFactory(tenant=tenant, email="rita@e2e.test", name="Rita", role="responder")
    make_rule(rita, make_method(rita, "sms", NUMBER), "HIGH", 0)
    make_rule(rita, make_method(rita, "voice", NUMBER), "HIGH", 1)  # would ring a minute later
    policy = make_policy(tenant, [{"users": [rita], "timeout_minutes": 30}])
    source = make_source(tenant, name="Prometheus", escalation_policy=policy)

    fake = FakeTwilio(SID, TOKEN)
    env = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": FROM}
    with FakeTwilioServer(fake) as server:
        env["TWILIO_API_BASE_URL"] = server.url
        with Stack(database_url=database_url_of(connection), redis_url=settings.REDIS_URL, env=env,
                   tmp=tmp_path) as stack:
            posted = httpx.post(stack.url + "/api/events", json={
                "integrationKey": source.integration_key, "eventType": "ALERT", "summary": "Checkout is failing",
                "alertKey": "checkout"}, timeout=60)
            assert posted.status_code == 202, posted.text
            incident = Incident.objects.get(pk=posted.json()["incidentId"])

            sms = wait_for(lambda: fake.sms, message="the SMS at the fake Twilio")[0]
            assert sms["to"] == NUMBER and sms["from"] == FROM
            assert sms["body"].startswith(f"ilert #{incident.number} HIGH: Checkout is failing")
            assert "Reply 1a to accept" in sms["body"]

            reply_url = stack.url + "/notifications/twilio/sms"
            params = {"AccountSid": SID, "From": NUMBER, "To": FROM, "Body": "1a", "MessageSid": "SMreply"}
            forged = httpx.post(reply_url, data=params, headers={"X-Twilio-Signature": "forged"}, timeout=60)
            assert forged.status_code == 403
            signature = RequestValidator(TOKEN).compute_signature(reply_url, params)
            answer = httpx.post(reply_url, data=params, headers={"X-Twilio-Signature": signature}, timeout=60)
            assert answer.status_code == 200
            assert f"<Message>#{incident.number} accepted.</Message>" in answer.text

            incident.refresh_from_db()
            assert incident.status == "ACCEPTED" and incident.accepted_by == rita
            voice = Notification.objects.get(incident=incident, channel="voice")
            assert voice.status == "cancelled"
            # Even once its time has come, the cancelled call is never placed: let the sweeper run
            # (a whole sweep that started after the change, however long the machine takes to get there).
            Notification.objects.filter(pk=voice.pk).update(due_at=voice.created_at)
            wait_for_a_whole_sweep("notifications.tasks.sweep", after=clock.now())
            assert fake.creates("Messages") and len(fake.creates("Messages")) == 1
            assert fake.creates("Calls") == [] and fake.unexpected == []
            sent = Notification.objects.get(incident=incident, channel="sms")
            assert sent.status == "sent" and sent.provider_id == sms["sid"]
            timeline = list(incident.log_entries.values_list("message", flat=True))
            assert any(m.startswith("SMS to Rita (+49…5678) sent") for m in timeline)
            assert any(m.startswith("Accepted by Rita") for m in timeline)
