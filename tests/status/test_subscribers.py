"""Subscribers (issue 17): double opt-in, notices through the anymail test backend with working
one-click unsubscribe links and headers, never twice (also when a worker dies mid-send), webhooks
signed the Standard Webhooks way, members following services from their profile."""

import re
from datetime import timedelta

import pytest
import time_machine
from anymail.backends.test import EmailBackend as AnymailTestBackend
from django.core import mail
from django.test import Client

from connectors import signing
from ilert import clock
from status import outbox, services, tasks
from status.models import Notice, Subscriber

from .factories import make_page, make_service

pytestmark = pytest.mark.django_db
ANYMAIL = "anymail.backends.test.EmailBackend"


class WorkerDied(BaseException):
    """What a SIGKILL looks like from inside: nothing after the call runs."""


class DyingBackend(AnymailTestBackend):
    """The ESP takes the message, then the worker dies before the outcome is recorded."""

    def send_messages(self, messages):
        super().send_messages(messages)
        raise WorkerDied


def _path(url):
    return re.sub(r"^https?://[^/]+", "", url)


def _link(text, word):
    return _path(next(w for w in text.split() if word in w))


@pytest.fixture
def page(tenant):
    return make_page(tenant, services_=[make_service(tenant, name="API")], slug="acme")


def _subscribe(client, email="vera@example.org"):
    return client.post("/status/acme/subscribe", {"email": email})


def test_double_opt_in_sends_nothing_until_confirmed_then_every_update(page, tenant, responder, settings):
    settings.EMAIL_BACKEND = ANYMAIL
    client = Client()
    assert _subscribe(client).status_code == 200
    outbox.dispatch()
    assert len(mail.outbox) == 1 and "Confirm" in mail.outbox[0].subject
    confirm = _link(mail.outbox[0].body, "/status/confirm/")

    incident = services.create_incident(tenant, title="API errors", message="Looking",
                                        affected=[(page.services.get(), "major_outage")], by=responder)
    outbox.dispatch()
    assert len(mail.outbox) == 1  # not confirmed: nothing

    assert client.get(confirm).status_code == 200  # a mail scanner opening the link confirms nothing
    assert Subscriber.objects.get().confirmed_at is None
    assert client.post(confirm).status_code == 200
    services.post_update(incident, status="identified", message="Bad deploy", by=responder)
    services.post_update(incident, status="resolved", message="Fixed", by=responder)
    outbox.dispatch()
    assert [m.subject for m in mail.outbox[1:]] == ["[Incident] API errors: Identified",
                                                     "[Incident] API errors: Resolved"]
    assert mail.outbox[1].to == ["vera@example.org"]


def test_a_bad_or_old_confirmation_link_confirms_nothing(page, settings):
    settings.EMAIL_BACKEND = ANYMAIL
    _subscribe(Client())
    outbox.dispatch()
    link = _link(mail.outbox[0].body, "/status/confirm/")
    assert Client().post(link + "x").status_code == 400
    with time_machine.travel(clock.now() + timedelta(days=8)):
        assert Client().post(link).status_code == 400
    assert Subscriber.objects.get().confirmed_at is None


def test_every_notice_carries_a_working_one_click_unsubscribe(page, tenant, responder, settings):
    settings.EMAIL_BACKEND = ANYMAIL
    subscriber = Subscriber.objects.create(tenant=tenant, page=page, email="u@example.org")
    services.confirm_subscriber(subscriber)
    services.create_incident(tenant, title="API errors", message="Looking",
                             affected=[(page.services.get(), "partial_outage")], by=responder)
    outbox.dispatch()
    message = mail.outbox[0]
    header = message.extra_headers["List-Unsubscribe"]
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert header.startswith("<http") and header.strip("<>") in message.body
    assert message.anymail_status.status == {"sent"}

    link = _path(header.strip("<>"))
    assert Client().get(link).status_code == 200  # a page with one button: link scanners change nothing
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()
    assert Client().post(link).status_code == 200  # RFC 8058 one-click POST (no CSRF token)
    assert not Subscriber.objects.filter(pk=subscriber.pk).exists()


def test_announcing_an_update_twice_writes_one_notice(page, tenant, responder):
    from status import notices

    subscriber = Subscriber.objects.create(tenant=tenant, page=page, email="u@example.org")
    services.confirm_subscriber(subscriber)
    incident = services.create_incident(tenant, title="x", message="y",
                                        affected=[(page.services.get(), "partial_outage")], by=responder)
    notices.announce_update(incident, incident.updates.get())
    assert Notice.objects.filter(subscriber=subscriber).count() == 1


def test_no_duplicate_notice_when_the_worker_dies_mid_send(page, tenant, responder, settings):
    settings.EMAIL_BACKEND = f"{__name__}.DyingBackend"
    subscriber = Subscriber.objects.create(tenant=tenant, page=page, email="u@example.org")
    services.confirm_subscriber(subscriber)
    services.create_incident(tenant, title="API errors", message="Looking",
                             affected=[(page.services.get(), "major_outage")], by=responder)
    with pytest.raises(WorkerDied):
        outbox.dispatch()
    assert len(mail.outbox) == 1
    notice = Notice.objects.get()
    assert notice.status == "sending" and notice.outcome_unknown

    settings.EMAIL_BACKEND = ANYMAIL
    tasks.sweep()  # before the deadline: the row is still the dead worker's
    with time_machine.travel(clock.now() + timedelta(seconds=outbox.DEADLINE_SECONDS + 1)):
        tasks.sweep()
        tasks.sweep()
    notice.refresh_from_db()
    assert notice.status == "uncertain" and len(mail.outbox) == 1


def test_a_worker_that_died_before_sending_leaves_the_notice_to_the_sweeper(page, tenant, responder, settings):
    settings.EMAIL_BACKEND = ANYMAIL
    subscriber = Subscriber.objects.create(tenant=tenant, page=page, email="u@example.org")
    services.confirm_subscriber(subscriber)
    services.create_incident(tenant, title="API errors", message="Looking",
                             affected=[(page.services.get(), "major_outage")], by=responder)
    assert outbox.claim(clock.now()) and not outbox.claim(clock.now())  # claimed once, then it dies
    with time_machine.travel(clock.now() + timedelta(seconds=outbox.DEADLINE_SECONDS + 1)):
        tasks.sweep()
    assert len(mail.outbox) == 1 and Notice.objects.get().status == "sent"


def test_subscribers_of_chosen_services_hear_only_about_those(tenant, responder, settings):
    settings.EMAIL_BACKEND = ANYMAIL
    api, web = make_service(tenant, name="API"), make_service(tenant, name="Web")
    page = make_page(tenant, services_=[api, web], slug="acme")
    only_web = Subscriber.objects.create(tenant=tenant, page=page, email="web@example.org")
    only_web.services.set([web])
    services.confirm_subscriber(only_web)
    services.create_incident(tenant, title="API errors", message="x", affected=[(api, "major_outage")], by=responder)
    outbox.dispatch()
    assert mail.outbox == []


def test_maintenance_notices_when_scheduled_24h_and_1h_before_at_start_and_end(page, tenant, responder, settings):
    from status import engine

    settings.EMAIL_BACKEND = ANYMAIL
    subscriber = Subscriber.objects.create(tenant=tenant, page=page, email="u@example.org")
    services.confirm_subscriber(subscriber)
    start = clock.now() + timedelta(days=3)
    services.schedule_maintenance(tenant, title="DB upgrade", message="Planned", scheduled_for=start,
                                  scheduled_until=start + timedelta(hours=1), affected=list(page.services.all()),
                                  by=responder)
    for moment in (start - timedelta(hours=23), start - timedelta(minutes=59), start + timedelta(seconds=1),
                   start + timedelta(hours=1, seconds=1)):
        with time_machine.travel(moment, tick=False):
            engine.tick()
            engine.tick()  # a second sweep at the same moment does nothing more
            outbox.dispatch()
    subjects = [m.subject for m in mail.outbox]
    assert subjects == ["[Maintenance] DB upgrade: Scheduled", "[Maintenance] DB upgrade: starts in 24 h",
                        "[Maintenance] DB upgrade: starts in 1 h", "[Maintenance] DB upgrade: In progress",
                        "[Maintenance] DB upgrade: Completed"]


def test_webhook_subscribers_get_standard_webhooks_signatures(page, tenant, responder, settings):
    from tests.connectors.fakes import FakeServer

    settings.ALLOW_PRIVATE_TARGETS = True  # the receiver is a local server on 127.0.0.1
    server = FakeServer(respond=lambda request: (204, b"")).start()
    try:
        subscriber, secret = services.subscribe_webhook(page, server.url + "/status", by=responder)
        services.create_incident(tenant, title="API errors", message="x",
                                 affected=[(page.services.get(), "major_outage")], by=responder)
        outbox.dispatch()
    finally:
        server.stop()
    call = server.received[0]
    body = call.body.decode()
    expected = signing.sign(secret, call.headers["webhook-id"], call.headers["webhook-timestamp"], body)
    assert call.headers["webhook-signature"] == expected
    assert '"subject":"[Incident] API errors: Investigating"' in body
    assert Notice.objects.get(subscriber=subscriber).status == "sent"
    assert secret not in Subscriber.objects.get(pk=subscriber.pk).secret_encrypted  # stored encrypted


def test_members_follow_services_from_their_profile(tenant, stakeholder, responder, settings):
    settings.EMAIL_BACKEND = ANYMAIL
    api = make_service(tenant, name="API")
    client = Client()
    client.force_login(stakeholder)
    assert "Service notices" in client.get("/status-pages/subscriptions").content.decode()
    assert client.post("/status-pages/subscriptions", {"services": [api.pk]}).status_code == 302
    services.create_incident(tenant, title="API errors", message="x", affected=[(api, "major_outage")], by=responder)
    outbox.dispatch()
    assert mail.outbox[0].to == [stakeholder.email]


def test_the_subscribe_form_does_not_flood_an_address(page, settings):
    settings.EMAIL_BACKEND = ANYMAIL
    for _ in range(3):
        _subscribe(Client())
    outbox.dispatch()
    assert len(mail.outbox) == 1


def test_a_visitor_may_subscribe_to_some_services_only(tenant, settings):
    settings.EMAIL_BACKEND = ANYMAIL
    api, web = make_service(tenant, name="API"), make_service(tenant, name="Web")
    make_page(tenant, services_=[api, web], slug="acme")
    html = Client().get("/status/acme/").content.decode()
    assert f'value="{web.code}"' in html
    Client().post("/status/acme/subscribe", {"email": "w@example.org", "services": [web.code, "nonsense"]})
    assert list(Subscriber.objects.get().services.all()) == [web]


def test_an_admin_adds_a_webhook_and_removes_subscribers_from_the_dashboard(page, tenant, admin, settings):
    settings.ALLOW_PRIVATE_TARGETS = True
    client = Client()
    client.force_login(admin)
    answer = client.post(f"/status-pages/{page.pk}/subscribers", {"url": "http://127.0.0.1:9/hook"}, follow=True)
    assert "whsec_" in answer.content.decode()
    hook = Subscriber.objects.get(kind="webhook")
    assert hook.url == "http://127.0.0.1:9/hook"
    assert "whsec_" not in client.get(f"/status-pages/{page.pk}/").content.decode()  # never shown again
    client.post(f"/status-pages/{page.pk}/subscribers", {"remove": hook.pk})
    assert not Subscriber.objects.exists()
