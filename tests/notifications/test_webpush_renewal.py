"""pushsubscriptionchange on the server: the service worker moves its contact method to the new
subscription with the old endpoint and the renewal token the server gave that browser. The token
is stored hashed, works once, and only with its own endpoint; a late 410 for the old endpoint cannot
remove the renewed method; pages then go to the new endpoint, encrypted for the new keys."""

import json

import pytest
from django.test import Client

from notifications import engine, services
from notifications.models import ContactMethod, Notification, ProfileNotice

from .factories import make_rule, open_incident
from .test_webpush import _push_settings, browser_for, subscribe  # noqa: F401 - the autouse settings
from .webpush_fake import FakePushService, Subscriber

pytestmark = pytest.mark.django_db
RENEW = "/notifications/webpush/renew"


@pytest.fixture
def push():
    with FakePushService() as service:
        yield service


def renew(client, old_endpoint, token, subscriber):
    return client.post(RENEW, json.dumps({"old_endpoint": old_endpoint, "token": token,
                                          "endpoint": subscriber.endpoint, "keys": subscriber.keys}),
                       content_type="application/json")


def enabled(user, push, name="old"):
    subscriber = Subscriber(push.endpoint(name))
    answer = subscribe(browser_for(user), subscriber.subscription("Pixel 8"))
    assert answer.status_code == 201
    return subscriber, answer.json()["renewal_token"], answer.json()["renew_url"]


def test_the_worker_moves_its_method_to_the_new_subscription_without_a_session(responder, push):
    old, token, url = enabled(responder, push)
    assert url == RENEW
    method = ContactMethod.objects.get(kind="webpush")
    make_rule(responder, method, "HIGH", 0)
    assert token not in method.push_renewal_hash and len(token) >= 40  # only its hash is kept

    new = Subscriber(push.endpoint("new"))
    worker = Client(enforce_csrf_checks=True)  # no session, no CSRF token: as the service worker
    answer = renew(worker, old.endpoint, token, new)
    assert answer.status_code == 200
    method.refresh_from_db()
    assert (method.pk, method.address, method.push_keys, method.device_name) == (
        answer.json()["id"], new.endpoint, new.keys, "Pixel 8")
    assert method.rules.count() == 1  # the same method: its rules stay

    # Spent: the same token again is refused, with the old or the new endpoint; the next one works once.
    assert renew(worker, old.endpoint, token, Subscriber(push.endpoint("x"))).status_code == 403
    assert renew(worker, new.endpoint, token, Subscriber(push.endpoint("x"))).status_code == 403
    following = answer.json()["renewal_token"]
    assert following != token
    newer = Subscriber(push.endpoint("newer"))
    assert renew(worker, new.endpoint, following, newer).status_code == 200
    assert ContactMethod.objects.get(pk=method.pk).address == newer.endpoint

    # A page now goes to the newest endpoint, encrypted for its keys.
    incident = open_incident(responder.tenant)
    services.notify(incident, responder, round_tag="r1")
    engine.dispatch()
    (request,) = push.requests
    assert request["path"] == "/push/newer"
    assert newer.decrypt(request["body"])["incident"]["number"] == incident.number


def test_a_wrong_token_or_another_browsers_endpoint_is_one_403_and_changes_nothing(responder, admin, push):
    mine, my_token, _ = enabled(responder, push, "mine")
    theirs, their_token, _ = enabled(admin, push, "theirs")
    worker = Client()
    new = Subscriber(push.endpoint("new"))
    answers = [
        renew(worker, mine.endpoint, "x" * 43, new),
        renew(worker, mine.endpoint, their_token, new),  # a real token, but another method's
        renew(worker, theirs.endpoint, my_token, new),
        renew(worker, push.endpoint("unknown"), my_token, new),
        renew(worker, mine.endpoint, "", new),
    ]
    assert [a.status_code for a in answers] == [403] * 5
    assert len({a.content for a in answers}) == 1  # nothing tells which part was wrong
    assert sorted(ContactMethod.objects.values_list("address", flat=True)) == sorted([mine.endpoint, theirs.endpoint])
    # Taking another method's endpoint is refused too, even with the right token.
    taken = renew(worker, mine.endpoint, my_token, theirs)
    assert taken.status_code == 409
    assert ContactMethod.objects.get(user=responder, kind="webpush").address == mine.endpoint


@pytest.mark.parametrize("body, status", [
    ("not json", 400),
    ({"old_endpoint": "x", "token": "t"}, 400),
    ({"old_endpoint": "OLD", "token": "TOKEN", "endpoint": "http://169.254.169.254/x", "keys": "KEYS"}, 400),
    ({"old_endpoint": "OLD", "token": "TOKEN", "endpoint": "NEW", "keys": {"p256dh": "A" * 87, "auth": "x"}}, 400),
    ({"old_endpoint": ["OLD"], "token": "TOKEN", "endpoint": "NEW", "keys": "KEYS"}, 403),
    ({"old_endpoint": "OLD", "token": {"a": 1}, "endpoint": "NEW", "keys": "KEYS"}, 403),
])
def test_bad_renewals_are_4xx_and_change_nothing(responder, push, body, status):
    old, token, _ = enabled(responder, push)
    new = Subscriber(push.endpoint("new"))
    if isinstance(body, dict):
        values = {"OLD": old.endpoint, "TOKEN": token, "NEW": new.endpoint}
        body = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
        if body.get("keys") == "KEYS":
            body["keys"] = new.keys
        body = json.dumps(body)
    answer = Client().post(RENEW, body, content_type="application/json")
    assert answer.status_code == status
    assert ContactMethod.objects.get(kind="webpush").address == old.endpoint
    assert Client().get(RENEW).status_code == 405


def test_a_late_410_for_the_old_endpoint_does_not_remove_the_renewed_method(responder, push):
    old, token, _ = enabled(responder, push)
    method = ContactMethod.objects.get(kind="webpush")
    make_rule(responder, method, "HIGH", 0)
    incident = open_incident(responder.tenant)
    services.notify(incident, responder, round_tag="r1")
    stale = Notification.objects.get(channel="webpush")  # queued for the old endpoint
    new = Subscriber(push.endpoint("new"))
    assert renew(Client(), old.endpoint, token, new).status_code == 200
    assert services.webpush_subscription_gone(stale, "the push service answered 410") is None
    assert ContactMethod.objects.filter(pk=method.pk, address=new.endpoint).exists()
    assert not ProfileNotice.objects.exists()


def test_subscribing_again_gives_a_new_token_and_spends_the_old_one(responder, push):
    old, first, _ = enabled(responder, push)
    again = subscribe(browser_for(responder), old.subscription("Pixel 8"))
    assert again.status_code == 200 and again.json()["renewal_token"] != first
    assert renew(Client(), old.endpoint, first, Subscriber(push.endpoint("new"))).status_code == 403
    assert renew(Client(), old.endpoint, again.json()["renewal_token"],
                 Subscriber(push.endpoint("new"))).status_code == 200
