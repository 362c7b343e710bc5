"""Web Push as a channel: a browser subscribes (CSRF-protected, for its signed-in user only), pages go
out through the real pywebpush to a push service on 127.0.0.1, encrypted for the subscription and
signed with our VAPID key — the test decrypts them with the subscription's own private key and auth
secret and verifies the JWT — and the actions in the payload answer through the push action door
(signed, expiring, single-use). 404/410 removes the subscription and tells the user; 5xx retries."""

import json
import logging
import os
import re
from datetime import timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from django.core import signing
from django.test import Client

from alerts.models import Incident
from escalation import engine as escalation_engine
from ilert import clock
from notifications import engine, services, vapid
from notifications.models import ContactMethod, Notification, ProfileNotice
from tests.alerts.factories import alert, make_source
from tests.escalation.factories import make_policy

from .factories import make_method, make_rule, open_incident
from .webpush_fake import FakePushService, Subscriber, verify_vapid

pytestmark = pytest.mark.django_db
ACTION = "/notifications/push/action"
SUBSCRIBE = "/notifications/webpush/subscriptions"


@pytest.fixture(autouse=True)
def _push_settings(settings, tmp_path):
    settings.ALLOW_PRIVATE_TARGETS = True  # the push service of these tests listens on 127.0.0.1
    settings.DATA_DIR = tmp_path
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    settings.WEBPUSH_VAPID_SUBJECT = "mailto:ops@example.com"
    vapid.reset_cache()
    yield
    vapid.reset_cache()


@pytest.fixture
def push():
    with FakePushService() as service:
        yield service


def browser_for(user):
    """A browser session of `user` that sends the CSRF token as the page's script does."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/notifications/panels/profile")
    assert page.status_code == 200
    client.csrf = client.cookies["csrftoken"].value
    client.page = page.content.decode()
    return client


def subscribe(client, subscription):
    return client.post(SUBSCRIBE, json.dumps(subscription), content_type="application/json",
                       HTTP_X_CSRFTOKEN=client.csrf)


def subscribed(user, push, name="sub1"):
    subscriber = Subscriber(push.endpoint(name))
    assert subscribe(browser_for(user), subscriber.subscription()).status_code == 201
    return subscriber, ContactMethod.objects.get(kind="webpush", address=subscriber.endpoint)


def page(tenant, user, method, **fields):
    make_rule(user, method, "HIGH", 0)
    incident = open_incident(tenant, **fields)
    services.notify(incident, user, round_tag="r1")
    engine.dispatch()
    return incident, Notification.objects.get(incident=incident, channel="webpush")


# --- subscribing -----------------------------------------------------------------------------------


def test_a_browser_subscribes_for_its_signed_in_user_only_with_the_csrf_token(responder, push):
    subscriber = Subscriber(push.endpoint())
    client = browser_for(responder)
    assert 'data-vapid-key="' + vapid.public_key() + '"' in client.page
    refused = client.post(SUBSCRIBE, json.dumps(subscriber.subscription()), content_type="application/json")
    assert refused.status_code == 403 and not ContactMethod.objects.filter(kind="webpush").exists()

    created = subscribe(client, subscriber.subscription("Pixel 8"))
    assert created.status_code == 201 and created.json()["created"] is True
    method = ContactMethod.objects.get(kind="webpush")
    assert (method.user, method.address, method.device_name, method.usable) == (
        responder, subscriber.endpoint, "Pixel 8", True)
    assert method.push_keys == subscriber.keys
    assert subscriber.keys["auth"] not in method.push_keys_encrypted  # stored encrypted

    again = subscribe(client, {**subscriber.subscription("Pixel 8 Chrome")})
    assert again.status_code == 200 and ContactMethod.objects.filter(kind="webpush").count() == 1
    assert ContactMethod.objects.get(kind="webpush").device_name == "Pixel 8 Chrome"
    assert "Pixel 8 Chrome" in browser_for(responder).page  # listed on the profile, with Remove


def test_another_users_browser_endpoint_is_refused(responder, admin, stakeholder, push):
    subscriber = Subscriber(push.endpoint())
    assert subscribe(browser_for(admin), subscriber.subscription()).status_code == 201
    taken = subscribe(browser_for(responder), subscriber.subscription())
    assert taken.status_code == 409 and taken.json()["code"] == "conflict"
    read_only = subscribe(browser_for(stakeholder), Subscriber(push.endpoint("s2")).subscription())
    assert read_only.status_code == 403
    assert list(ContactMethod.objects.filter(kind="webpush").values_list("user", flat=True)) == [admin.pk]


@pytest.mark.parametrize("body, field", [
    ("not json", None),
    ({"endpoint": "x"}, "keys"),
    ({"endpoint": "ftp://push.example/x", "keys": "KEYS"}, "endpoint"),
    ({"endpoint": "http://169.254.169.254/latest", "keys": "KEYS"}, "endpoint"),
    ({"endpoint": "ENDPOINT", "keys": {"p256dh": "A" * 87, "auth": "AUTH"}}, "keys.p256dh"),
    ({"endpoint": "ENDPOINT", "keys": {"p256dh": "P256DH", "auth": "c2hvcnQ"}}, "keys.auth"),
    ({"endpoint": "ENDPOINT", "keys": {"p256dh": "P256DH", "auth": "not base64!"}}, "keys.auth"),
])
def test_a_bad_subscription_is_a_400_that_names_the_field_and_changes_nothing(responder, push, body, field):
    subscriber = Subscriber(push.endpoint())
    if isinstance(body, dict):
        body = json.loads(json.dumps(body).replace('"KEYS"', json.dumps(subscriber.keys))
                          .replace("ENDPOINT", subscriber.endpoint).replace("P256DH", subscriber.keys["p256dh"])
                          .replace("AUTH", subscriber.keys["auth"]))
        body = json.dumps(body)
    client = browser_for(responder)
    response = client.post(SUBSCRIBE, body, content_type="application/json", HTTP_X_CSRFTOKEN=client.csrf)
    assert response.status_code == 400, response.content
    if field:
        assert field in response.json()["fields"]
    assert not ContactMethod.objects.filter(kind="webpush").exists()


def test_plain_http_endpoints_are_refused_unless_private_targets_are_allowed(responder, settings):
    settings.ALLOW_PRIVATE_TARGETS = False
    subscriber = Subscriber("http://push.example.com/x")
    response = subscribe(browser_for(responder), subscriber.subscription())
    assert response.status_code == 400 and "https" in response.json()["message"]


# --- sending ---------------------------------------------------------------------------------------


def test_a_page_is_encrypted_for_the_subscription_and_signed_with_our_vapid_key(tenant, responder, push):
    subscriber, method = subscribed(responder, push)
    incident, row = page(tenant, responder, method, summary="Disk full on db-1")
    assert len(push.requests) == 1
    request = push.requests[0]
    assert request["path"] == "/push/sub1"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["urgency"] == "high" and headers["ttl"] == "3600" and headers["topic"] == row.token
    claims = verify_vapid(headers["authorization"], audience=push.origin, public_key=vapid.public_key())
    assert claims["sub"] == "mailto:ops@example.com"

    data = subscriber.decrypt(request["body"])
    assert data["kind"] == "page" and data["tag"] == row.token
    assert data["incident"]["number"] == incident.number and data["incident"]["summary"] == "Disk full on db-1"
    assert data["incident"]["priority"] == incident.priority
    assert data["url"].endswith(f"/incidents/{incident.pk}/") or str(incident.pk) in data["url"]
    assert [a["action"] for a in data["actions"]] == ["accept", "resolve", "escalate"]
    assert data["action_url"] == "https://ilert.example.com/notifications/push/action"
    assert f"#{incident.number}" in data["title"]

    row.refresh_from_db()
    assert row.status == "sent" and row.provider == "webpush" and row.provider_id.startswith(push.origin)
    assert incident.log_entries.filter(message__startswith="Web push to").filter(message__contains="sent").exists()


def test_the_action_in_the_payload_accepts_once_and_forged_or_expired_tokens_are_refused(
        tenant, responder, push, settings):
    subscriber, method = subscribed(responder, push)
    incident, row = page(tenant, responder, method)
    data = subscriber.decrypt(push.requests[0]["body"])
    anonymous = Client()  # the service worker posts without a session: the token is the authority

    forged = signing.dumps({"n": row.pk}, salt="notifications.email-action")
    assert anonymous.post(ACTION, {"token": forged, "action": "accept"},
                          content_type="application/json").status_code == 403
    tampered = data["token"][:-2] + ("AA" if not data["token"].endswith("AA") else "BB")
    assert anonymous.post(ACTION, {"token": tampered, "action": "accept"},
                          content_type="application/json").status_code == 403
    with time_machine.travel(clock.now() + timedelta(seconds=settings.NOTIFICATION_ACTION_MAX_AGE_SECONDS + 5)):
        expired = anonymous.post(ACTION, {"token": data["token"], "action": "accept"}, content_type="application/json")
    assert expired.status_code == 403
    assert Incident.objects.get(pk=incident.pk).status == "PENDING"

    done = anonymous.post(data["action_url"].removeprefix("https://ilert.example.com"),
                          {"token": data["token"], "action": "accept"}, content_type="application/json")
    assert done.status_code == 200 and done.json()["message"] == f"#{incident.number} accepted."
    assert Incident.objects.get(pk=incident.pk).status == "ACCEPTED"
    assert incident.log_entries.filter(kind="accepted", via="push", actor=responder).exists()
    reused = anonymous.post(ACTION, {"token": data["token"], "action": "resolve"}, content_type="application/json")
    assert reused.status_code == 409 and Incident.objects.get(pk=incident.pk).status == "ACCEPTED"


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_is_removed_the_user_told_and_the_next_step_goes_at_once(
        tenant, responder, push, status):
    subscriber, method = subscribed(responder, push)
    email = make_method(responder, "email")
    make_rule(responder, email, "HIGH", 10)
    push.answer(status)
    incident, row = page(tenant, responder, method)
    row.refresh_from_db()
    assert row.status == "failed" and "subscription is gone" in row.error
    assert not ContactMethod.objects.filter(kind="webpush").exists()  # removed, with its rule steps
    notice = ProfileNotice.objects.get(user=responder)
    assert f"answered {status}" in notice.text and "Enable push on this device" in notice.text
    assert notice.text in browser_for(responder).page.replace("&quot;", '"')
    told = Notification.objects.get(user=responder, kind="notice")  # also where their notices go
    assert told.channel == "email" and told.body == notice.text
    following = Notification.objects.get(incident=incident, channel="email")
    assert following.due_at <= clock.now()  # fallback: the email step is due now, not in 10 minutes
    engine.dispatch()
    following.refresh_from_db()
    assert following.status == "sent"
    warning = incident.log_entries.filter(kind="warning").values_list("message", flat=True).get()
    assert "subscription is gone" in warning and "Next: email" in warning


def test_a_dismissed_notice_is_gone_and_only_its_user_may_dismiss_it(tenant, responder, admin, push):
    _subscriber, method = subscribed(responder, push)
    push.answer(410)
    page(tenant, responder, method)
    notice = ProfileNotice.objects.get(user=responder)
    other = browser_for(admin)
    assert other.post(f"/notifications/notices/{notice.pk}/dismiss", HTTP_X_CSRFTOKEN=other.csrf).status_code == 404
    mine = browser_for(responder)
    assert mine.post(f"/notifications/notices/{notice.pk}/dismiss", HTTP_X_CSRFTOKEN=mine.csrf).status_code == 302
    assert not ProfileNotice.objects.exists()


def test_a_5xx_is_retried_with_backoff_and_the_retry_sends_the_same_text(tenant, responder, push):
    subscriber, method = subscribed(responder, push)
    push.answer(503)
    incident, row = page(tenant, responder, method)
    row.refresh_from_db()
    assert row.status == "pending" and row.attempts == 1 and "503" in row.error
    assert row.due_at > clock.now()
    with time_machine.travel(row.due_at + timedelta(seconds=1)):
        engine.dispatch()
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2
    first, second = (subscriber.decrypt(r["body"]) for r in push.requests)
    first.pop("token"), second.pop("token")  # signed afresh (a new expiry) for each try
    assert first == second and first["incident"]["number"] == incident.number
    assert ContactMethod.objects.filter(pk=method.pk).exists()


def test_a_push_service_that_does_not_answer_is_never_sent_again_blindly(tenant, responder, push, settings):
    settings.NOTIFICATION_PROVIDER_TIMEOUT_SECONDS = 0.5
    _subscriber, method = subscribed(responder, push)
    email = make_method(responder, "email")
    make_rule(responder, email, "HIGH", 10)
    push.hold = True  # the request arrives and no answer comes: did it take the message?
    incident, row = page(tenant, responder, method)
    row.refresh_from_db()
    assert row.status == "sending" and row.outcome_unknown
    later = row.deadline + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        engine.reconcile()
    row.refresh_from_db()
    assert row.status == "uncertain" and len(push.requests) == 1  # not re-sent
    assert Notification.objects.get(incident=incident, channel="email").due_at <= later  # the next step goes


def test_a_refused_vapid_signature_fails_the_step_without_removing_the_device(tenant, responder, push):
    _subscriber, method = subscribed(responder, push)
    push.answer(403)
    _incident, row = page(tenant, responder, method)
    row.refresh_from_db()
    assert row.status == "failed" and "VAPID" in row.error
    assert ContactMethod.objects.filter(pk=method.pk).exists()


def test_a_redirect_from_the_push_service_is_not_followed(tenant, responder, push):
    _subscriber, method = subscribed(responder, push)
    push.answer(307)
    _incident, row = page(tenant, responder, method)
    row.refresh_from_db()
    assert row.status == "failed" and "307" in row.error
    assert [r["path"] for r in push.requests] == ["/push/sub1"]


def test_an_endpoint_that_turned_private_is_not_called(tenant, responder, push, settings):
    _subscriber, method = subscribed(responder, push)
    settings.ALLOW_PRIVATE_TARGETS = False
    _incident, row = page(tenant, responder, method)
    row.refresh_from_db()
    assert row.status == "failed" and "refused" in row.error and push.requests == []


def test_paged_through_a_policy_accepted_from_the_push_and_the_timeline_says_via_push(tenant, responder, push):
    subscriber, method = subscribed(responder, push)
    make_rule(responder, method, "HIGH", 0)
    policy = make_policy(tenant, levels=[{"users": [responder], "timeout_minutes": 5}])
    source = make_source(tenant, escalation_policy=policy)
    incident = alert(source, summary="API 5xx above 5%", key="api").incident
    escalation_engine.tick()
    engine.dispatch()
    assert len(push.requests) == 1
    data = subscriber.decrypt(push.requests[0]["body"])
    assert data["incident"]["number"] == incident.number and data["incident"]["summary"] == "API 5xx above 5%"
    answer = Client().post(ACTION, {"token": data["token"], "action": "accept"}, content_type="application/json")
    assert answer.status_code == 200
    incident.refresh_from_db()
    assert incident.status == "ACCEPTED" and incident.accepted_by == responder
    entry = incident.log_entries.get(kind="accepted")
    assert entry.via == "push" and entry.actor == responder


# --- the VAPID key ---------------------------------------------------------------------------------


def test_the_vapid_key_is_generated_once_into_the_data_dir_and_never_shown(responder, settings, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    public = vapid.public_key()
    path = tmp_path / "vapid_private_key.pem"
    assert path.exists() and (os.stat(path).st_mode & 0o777) == 0o600
    vapid.reset_cache()
    assert vapid.public_key() == public  # read back, not made again
    pem = path.read_text()
    secret_lines = [line for line in pem.splitlines() if "-----" not in line]
    d = vapid.private_key().private_numbers().private_value.to_bytes(32, "big")
    shown = browser_for(responder).page + Client().get("/sw.js").content.decode() + caplog.text
    assert public in browser_for(responder).page
    assert not any(line in shown for line in secret_lines)
    from .webpush_fake import b64url

    assert b64url(d) not in shown


def test_a_configured_vapid_key_wins_over_the_file(settings, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    from .webpush_fake import b64url

    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    settings.WEBPUSH_VAPID_PRIVATE_KEY = b64url(raw)
    vapid.reset_cache()
    expected = b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint))
    assert vapid.public_key() == expected and not (tmp_path / "vapid_private_key.pem").exists()
    settings.WEBPUSH_VAPID_PRIVATE_KEY = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()).decode()
    vapid.reset_cache()
    assert vapid.public_key() == expected


# --- the installable app ------------------------------------------------------------------------------


def test_the_manifest_names_the_app_its_icons_and_standalone_display(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200 and response["Content-Type"] == "application/manifest+json"
    data = response.json()
    assert data["display"] == "standalone" and data["scope"] == "/" and data["start_url"].startswith("/")
    assert data["theme_color"] == "#2454d6"
    assert {"any", "maskable"} <= {icon["purpose"] for icon in data["icons"]}
    for icon in data["icons"]:
        png = client.get(icon["src"])
        body = b"".join(png.streaming_content) if png.streaming else png.content
        assert png.status_code == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(body[16:20], "big"), int.from_bytes(body[20:24], "big")
        assert icon["sizes"] == f"{width}x{height}"
    assert any(i["sizes"] == "512x512" and i["purpose"] == "maskable" for i in data["icons"])


def test_the_service_worker_is_served_from_the_root_with_its_shell_and_the_csp(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript") and response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache" and "script-src 'self'" in response["Content-Security-Policy"]
    config = json.loads(re.match(r"self\.ILERT = (.*);\n", response.content.decode()).group(1))
    assert config["offline"] == "/offline" and config["cache"].startswith("ilert-shell-")
    assert all(url.startswith("/static/") for url in config["shell"])  # static files only: nothing per user
    assert 'addEventListener("notificationclick"' in response.content.decode()


def test_the_offline_page_shows_nobody_and_carries_no_csrf_token(responder):
    client = Client()
    client.force_login(responder)
    body = client.get("/offline").content.decode()
    assert "You are offline" in body
    assert responder.display_name not in body and responder.email not in body and "csrf" not in body.lower()


def test_every_dashboard_page_links_the_manifest_and_the_worker_script(responder):
    client = Client()
    client.force_login(responder)
    body = client.get("/").content.decode()
    assert 'rel="manifest" href="/manifest.webmanifest"' in body and "/static/js/pwa.js" in body
    assert 'rel="manifest"' in Client().get("/login/").content.decode()


def test_the_vapid_key_command_prints_a_key_the_setting_takes(settings):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("vapid_key", stdout=out)
    settings.WEBPUSH_VAPID_PRIVATE_KEY = out.getvalue().strip()
    vapid.reset_cache()
    public = StringIO()
    call_command("vapid_key", "--public", stdout=public)
    assert public.getvalue().strip() == vapid.public_key() and len(vapid.public_key()) == 87


def test_the_api_masks_the_endpoint_and_cannot_create_a_browser_subscription(responder, push):
    from tests.conftest import client_for

    _subscriber, method = subscribed(responder, push)
    api = client_for(responder)
    listed = {item["id"]: item for item in api.get("/api/v1/contact-methods").json()["results"]}
    assert listed[method.pk]["kind"] == "webpush" and listed[method.pk]["address"] == "http://127.0.0.1/…"
    made = api.post("/api/v1/contact-methods", {"kind": "webpush", "address": push.endpoint("api")}, format="json")
    assert made.status_code == 400 and "Enable push on this device" in made.json()["message"]
    assert ContactMethod.objects.filter(kind="webpush").count() == 1


def test_processes_generating_the_vapid_key_at_once_all_use_one_key(tmp_path):
    """Web and workers share DATA_DIR (compose mounts one volume): whoever starts first writes the key
    whole and links it into place; every other process reads that one, never a half-written file."""
    import subprocess
    import sys

    script = ("import sys; from pathlib import Path; from notifications import vapid; "
              "print(vapid._b64url(vapid._from_file(Path(sys.argv[1])).public_key().public_bytes("
              "vapid.serialization.Encoding.X962, vapid.serialization.PublicFormat.UncompressedPoint)))")
    path = tmp_path / "vapid_private_key.pem"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ilert.settings"}
    runs = [subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, env=env)
            for _ in range(6)]
    keys = {run.communicate(timeout=120)[0].strip() for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert len(keys) == 1 and keys != {b""}
    assert [p.name for p in tmp_path.iterdir()] == ["vapid_private_key.pem"]  # no drafts left behind
