"""Slack target with the real slack_sdk against a fake Slack (a local HTTP server: slack_sdk speaks
urllib), and the interactivity endpoint with real Slack signatures."""

import hashlib
import hmac
import json
import threading
import time
from urllib.parse import urlencode

import pytest
from django.test import Client

from alerts import services as alert_services
from alerts.models import Incident, IncidentLogEntry
from connectors import engine, services
from connectors.models import ConnectionInvocation, ExternalRef
from tests.alerts.factories import alert, make_source

from .factories import make_connection, make_connector

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1111-2222-slacktokensecret"


def fake_slack(request):
    if request.path == "/api/chat.postMessage":
        body = request.json()
        return 200, {"ok": True, "channel": "C0OPS", "ts": "1700000000.000100" if "thread_ts" not in body
                     else "1700000000.000200", "message": {}}
    if request.path == "/api/chat.update":
        return 200, {"ok": True, "channel": "C0OPS", "ts": request.json()["ts"]}
    if request.path == "/api/auth.test":
        return 200, {"ok": True, "team": "Acme", "user": "ilert"}
    return 200, "ok"


@pytest.fixture
def slack(local_server, settings, allow_private):
    server = local_server(fake_slack)
    settings.SLACK_API_URL = server.url + "/api/"
    return server


@pytest.fixture
def connection(tenant):
    connector = make_connector(tenant, "slack", name="Slack",
                               credentials={"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET})
    return make_connection(tenant, connector=connector, source=make_source(tenant, name="Prometheus"))


def _blocks_buttons(blocks):
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_it_posts_a_block_kit_message_then_updates_that_message(slack, connection, admin):
    incident = alert(connection.alert_source, "db-1 down").incident
    engine.deliver_due()
    post = slack.received[0]
    assert post.path == "/api/chat.postMessage"
    assert post.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    body = post.json()
    assert body["channel"] == "#ops" and "db-1 down" in body["text"]
    assert _blocks_buttons(body["blocks"]) == ["ilert_accept", "ilert_resolve"]
    actions = next(b for b in body["blocks"] if b["type"] == "actions")
    assert {e["value"] for e in actions["elements"]} == {str(incident.pk)}
    ref = ExternalRef.objects.get()
    assert (ref.ref, ref.data["channel"]) == ("1700000000.000100", "C0OPS")

    alert_services.accept(incident, by=admin)
    engine.deliver_due()
    update = slack.received[1]
    assert update.path == "/api/chat.update"
    assert update.json()["ts"] == "1700000000.000100" and update.json()["channel"] == "C0OPS"
    assert "Accepted by Ada Admin" in json.dumps(update.json()["blocks"])
    assert _blocks_buttons(update.json()["blocks"]) == ["ilert_resolve"]

    alert_services.comment(incident, "rebooting", by=admin)
    alert_services.resolve(incident, by=admin)
    engine.deliver_due()
    engine.deliver_due()
    paths = [r.path for r in slack.received]
    assert paths == ["/api/chat.postMessage", "/api/chat.update", "/api/chat.update", "/api/chat.postMessage",
                     "/api/chat.update"]
    assert slack.received[3].json()["thread_ts"] == "1700000000.000100"
    assert _blocks_buttons(slack.received[4].json()["blocks"]) == []  # resolved: no buttons
    assert set(ConnectionInvocation.objects.values_list("status", flat=True)) == {"succeeded"}


def test_slack_errors_are_failures_and_rate_limits_are_retried(local_server, settings, allow_private, connection):
    answers = iter([(200, {"ok": False, "error": "channel_not_found"}),
                    (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "60"})])
    server = local_server(lambda request: next(answers))
    settings.SLACK_API_URL = server.url + "/api/"
    source = connection.alert_source
    alert(source, key="a")
    engine.deliver_due()
    first = ConnectionInvocation.objects.get()
    assert first.status == "failed" and "channel_not_found" in first.error
    alert(source, key="b")
    engine.deliver_due()
    second = ConnectionInvocation.objects.exclude(pk=first.pk).get()
    assert second.status == "pending" and (second.due_at - second.last_attempt_at).total_seconds() == 60


def test_incoming_webhook_mode_posts_each_event(local_server, allow_private, tenant):
    server = local_server()
    connector = make_connector(tenant, "slack", settings={"mode": "webhook"},
                               credentials={"webhook_url": server.url + "/services/T000/B000/webhooksecretpart0001"})
    connection = make_connection(tenant, connector=connector)
    alert(connection.alert_source, "api 500s")
    engine.deliver_due()
    (post,) = server.received
    assert post.path == "/services/T000/B000/webhooksecretpart0001"
    assert "api 500s" in post.json()["text"] and post.json()["blocks"][0]["type"] == "section"
    row = ConnectionInvocation.objects.get()
    assert row.status == "succeeded" and "webhooksecretpart0001" not in json.dumps(row.summary)


# --- interactivity ------------------------------------------------------------------------------


def signed_post(connector, payload, *, secret=SIGNING_SECRET, timestamp=None):
    """POST the way Slack does: form-encoded `payload`, signed v0 with the app's signing secret
    (HMAC-SHA256 over "v0:{timestamp}:{body}", computed here from Slack's documentation)."""
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(timestamp if timestamp is not None else time.time()))
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return Client().post(f"/integrations/slack/{connector.inbound_token}/interactivity", data=body,
                         content_type="application/x-www-form-urlencoded",
                         HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp, HTTP_X_SLACK_SIGNATURE=signature)


def click(incident, action="ilert_accept", user="U0RITA", response_url=None):
    payload = {"type": "block_actions", "user": {"id": user, "username": "rita"}, "team": {"id": "T0ACME"},
               "actions": [{"action_id": action, "value": str(incident.pk), "type": "button"}]}
    if response_url:
        payload["response_url"] = response_url
    return payload


def test_a_linked_slack_user_accepts_and_resolves_from_the_buttons(connection, responder, tenant):
    services.link_slack_user(tenant, slack_user_id="U0RITA", user=responder)
    incident = alert(connection.alert_source).incident
    assert signed_post(connection.connector, click(incident)).status_code == 200
    incident.refresh_from_db()
    assert incident.status == "ACCEPTED" and incident.accepted_by == responder
    entry = IncidentLogEntry.objects.get(incident=incident, kind="accepted")
    assert entry.via == "slack" and entry.actor == responder
    assert signed_post(connection.connector, click(incident, "ilert_resolve")).status_code == 200
    incident.refresh_from_db()
    assert incident.status == "RESOLVED" and incident.resolved_by == responder
    # the accepted/resolved events queue updates of the Slack message
    assert list(ConnectionInvocation.objects.order_by("id").values_list("event", flat=True)) == [
        "created", "accepted", "resolved"]


@pytest.mark.parametrize("forgery", ["wrong secret", "stale timestamp", "tampered body", "no signature"])
def test_forged_slack_requests_get_403_and_change_nothing(connection, responder, tenant, forgery):
    services.link_slack_user(tenant, slack_user_id="U0RITA", user=responder)
    incident = alert(connection.alert_source).incident
    url = f"/integrations/slack/{connection.connector.inbound_token}/interactivity"
    if forgery == "wrong secret":
        response = signed_post(connection.connector, click(incident), secret="not-the-signing-secret")
    elif forgery == "stale timestamp":
        response = signed_post(connection.connector, click(incident), timestamp=time.time() - 6 * 60)
    elif forgery == "tampered body":
        body = urlencode({"payload": json.dumps(click(incident))})
        timestamp = str(int(time.time()))
        signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{timestamp}:{body}".encode(),
                                     hashlib.sha256).hexdigest()
        tampered = body.replace("ilert_accept", "ilert_resolve")
        response = Client().post(url, data=tampered, content_type="application/x-www-form-urlencoded",
                                 HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp, HTTP_X_SLACK_SIGNATURE=signature)
    else:
        response = Client().post(url, data=urlencode({"payload": json.dumps(click(incident))}),
                                 content_type="application/x-www-form-urlencoded")
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == "PENDING"
    assert Incident.objects.get(pk=incident.pk).accepted_by is None


def test_an_unlinked_slack_user_is_told_and_nothing_changes(slack, connection):
    incident = alert(connection.alert_source).incident
    response = signed_post(connection.connector, click(incident, user="U0STRANGER",
                                                       response_url=slack.url + "/actions/T0/1/reply"))
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == "PENDING"
    reply = next(r for r in slack.received if r.path == "/actions/T0/1/reply")
    assert reply.json()["response_type"] == "ephemeral" and "not linked" in reply.json()["text"]


def test_a_click_cannot_reach_another_tenants_incident(connection, responder, tenant, outsider):
    services.link_slack_user(tenant, slack_user_id="U0RITA", user=responder)
    theirs = alert(make_source(outsider.tenant)).incident
    assert signed_post(connection.connector, click(theirs)).status_code == 200
    theirs.refresh_from_db()
    assert theirs.status == "PENDING"


def test_an_unknown_interactivity_token_is_404(db):
    assert Client().post("/integrations/slack/nope/interactivity", data="x",
                         content_type="application/x-www-form-urlencoded").status_code == 404


def test_the_connection_test_calls_auth_test(slack, tenant):
    outcome = services.test_connector(make_connector(tenant, "slack"))
    assert outcome.ok and "Acme" in outcome.message
    assert slack.received[0].path == "/api/auth.test"


class SlowSlack:
    """A fake Slack that posts the first message, then answers too late (the client has given up):
    the case where a retry must not post a second message. "Too late" is not a sleep longer than the
    client's timeout (a race a stalled test process can lose): the answer waits until the test
    releases it, after the client's attempt has ended."""

    def __init__(self):
        self.posted, self.slow_first = [], True
        self.released = threading.Event()

    def __call__(self, request):
        if request.path == "/api/chat.postMessage":
            body = request.json()
            ts = f"1700000000.{len(self.posted) + 1:06d}"
            self.posted.append({"ts": ts, "text": body["text"], "metadata": body.get("metadata")})
            if self.slow_first:
                self.slow_first = False
                self.released.wait(timeout=120)  # the client's timeout is 1 s
            return 200, {"ok": True, "channel": "C0OPS123", "ts": ts, "message": {}}
        if request.path.startswith("/api/conversations.history"):
            return 200, {"ok": True, "messages": [dict(m) for m in reversed(self.posted)]}
        if request.path == "/api/chat.update":
            return 200, {"ok": True, "channel": "C0OPS123", "ts": request.json()["ts"]}
        return 200, {"ok": True}


@pytest.mark.parametrize("channel", ["C0OPS123", "#ops"])
def test_a_retry_after_a_timeout_finds_the_message_slack_posted(local_server, settings, allow_private, tenant,
                                                                  channel):
    from datetime import timedelta

    import time_machine

    fake = SlowSlack()
    settings.SLACK_API_URL = local_server(fake).url + "/api/"
    settings.CONNECTOR_TIMEOUT_SECONDS = 1
    connector = make_connector(tenant, "slack", settings={"mode": "bot", "default_channel": channel})
    connection = make_connection(tenant, connector=connector, source=make_source(tenant))
    incident = alert(connection.alert_source, "db-1 down").incident
    try:
        engine.deliver_due()
    finally:
        fake.released.set()  # the client has given up waiting: answer now, into a closed connection
    row = ConnectionInvocation.objects.get()
    assert row.status == "pending" and len(fake.posted) == 1  # Slack has it; we never heard back
    assert fake.posted[0]["metadata"] == {"event_type": "ilert_incident",
                                          "event_payload": {"incident": incident.pk, "connection": connection.pk}}
    with time_machine.travel(row.due_at + timedelta(seconds=1)):
        engine.deliver_due()
    row.refresh_from_db()
    assert row.status == "succeeded"
    if channel == "#ops":  # conversations.history takes channel IDs only: documented, a second post
        assert len(fake.posted) == 2
        return
    assert len(fake.posted) == 1
    assert row.message == "Found the message an earlier attempt posted and updated it"
    assert ExternalRef.objects.get(connection=connection).ref == fake.posted[0]["ts"]
