"""The dev outbox never hands over an account (issue 13.1): it is off without DEBUG unless turned
on; only admins see the organisation's messages; password resets, invitations and verification
codes are shown to their addressee only; with no email provider the product says so."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client

from ilert import delivery
from ilert.models import DevMessage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
DEV = "ilert.devoutbox.EmailBackend"
UNCONFIGURED = "ilert.devoutbox.UnconfiguredEmailBackend"


def _browser(user):
    client = Client()
    client.force_login(user)
    return client


def _settings_in_a_fresh_process(**env):
    code = ("import django, json; django.setup(); from django.conf import settings; "
            "print(json.dumps([settings.DEV_OUTBOX, settings.EMAIL_BACKEND]))")
    base = {"PATH": os.environ["PATH"], "SECRET_KEY": "x", "DJANGO_SETTINGS_MODULE": "ilert.settings",
            "ILERT_DATA_DIR": "/tmp/ilert-settings-probe"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True,
                          text=True, timeout=60)
    return done


def test_without_debug_the_dev_outbox_is_off_and_mail_is_not_swallowed():
    done = _settings_in_a_fresh_process()
    assert json.loads(done.stdout) == [False, UNCONFIGURED], done.stderr
    assert json.loads(_settings_in_a_fresh_process(DEV_OUTBOX="true").stdout) == [True, DEV]
    assert json.loads(_settings_in_a_fresh_process(DEBUG="true").stdout) == [True, DEV]
    refused = _settings_in_a_fresh_process(EMAIL_BACKEND=DEV)
    assert refused.returncode != 0 and "DEV_OUTBOX" in refused.stderr


def test_with_the_dev_outbox_off_its_page_and_link_are_gone(admin, settings):
    settings.DEV_OUTBOX = False
    client = _browser(admin)
    assert client.get("/dev/outbox/").status_code == 404
    assert 'href="/dev/outbox/"' not in client.get("/").content.decode()
    settings.DEV_OUTBOX = True
    assert 'href="/dev/outbox/"' in client.get("/").content.decode()


def test_a_stakeholder_cannot_take_over_the_admin_through_a_password_reset(admin, stakeholder, responder,
                                                                           settings):
    settings.EMAIL_BACKEND = DEV
    other_admin = UserFactory(tenant=admin.tenant, role="admin", email="ann@acme.test")
    Client().post("/password/reset/", {"email": admin.email})
    reset = DevMessage.objects.get(to=admin.email)
    assert reset.account and reset.user == admin and "/password/reset/" in reset.body

    for reader in (stakeholder, responder, other_admin):
        page = _browser(reader).get("/dev/outbox/")
        assert page.status_code == 200
        assert "/password/reset/" not in page.content.decode(), f"{reader.role} sees the admin's reset link"
    assert "/password/reset/" in _browser(admin).get("/dev/outbox/").content.decode()


def test_invitations_are_shown_to_the_invitee_only(admin, settings):
    settings.EMAIL_BACKEND = DEV
    other_admin = UserFactory(tenant=admin.tenant, role="admin", email="ann@acme.test")
    _browser(admin).post("/users/", {"email": "newbie@acme.test", "name": "New", "role": "responder"})
    invitation = DevMessage.objects.get(to="newbie@acme.test")
    assert invitation.account and "/invitation/" in invitation.body
    for reader in (admin, other_admin):
        assert "/invitation/" not in _browser(reader).get("/dev/outbox/").content.decode()


def test_only_admins_see_the_organisations_messages(admin, responder, stakeholder):
    page_for_admin = DevMessage.objects.create(tenant=admin.tenant, user=admin, channel="sms", to="+4915100000001",
                                               body="ilert #7 Disk full on db-1")
    code_for_responder = DevMessage.objects.create(tenant=admin.tenant, user=responder, account=True, channel="sms",
                                                   to="+4915100000002", body="Your ilert code is 482913")
    admin_view = _browser(admin).get("/dev/outbox/").content.decode()
    assert page_for_admin.body in admin_view and code_for_responder.body not in admin_view
    responder_view = _browser(responder).get("/dev/outbox/").content.decode()
    assert code_for_responder.body in responder_view and page_for_admin.body not in responder_view
    stakeholder_view = _browser(stakeholder).get("/dev/outbox/").content.decode()
    assert page_for_admin.body not in stakeholder_view and code_for_responder.body not in stakeholder_view


def test_a_simulated_reply_needs_a_message_the_user_may_see_and_a_writing_role(admin, responder, stakeholder):
    message = DevMessage.objects.create(tenant=admin.tenant, user=admin, channel="sms", to="+4915100000001",
                                        body="ilert #7", meta={"notification": 1})
    path = f"/notifications/dev-outbox/{message.pk}/reply"
    assert _browser(responder).post(path, {"text": "ACCEPT"}).status_code == 404  # not theirs to see
    assert _browser(stakeholder).post(path, {"text": "ACCEPT"}).status_code == 403  # read-only


def test_without_an_email_provider_sends_fail_loudly(admin, settings, caplog):
    settings.DEV_OUTBOX = False
    settings.EMAIL_BACKEND = UNCONFIGURED
    with caplog.at_level(logging.WARNING, logger="ilert.delivery"):
        delivery.log_at_startup()
    assert "Email is not configured" in caplog.text

    ready = Client().get("/readyz").json()
    assert ready["delivery"]["email"] == "not_configured" and ready["delivery"]["sms"] == "not_configured"
    assert any("Email is not configured" in warning for warning in ready["warnings"])

    banner = "Email is not configured"
    assert banner in _browser(admin).get("/").content.decode()
    responder = UserFactory(tenant=admin.tenant, role="responder", email="r2@acme.test")
    assert banner not in _browser(responder).get("/").content.decode()

    # An invitation is not silently dropped: nothing is stored anywhere, the log says why.
    with caplog.at_level(logging.ERROR):
        _browser(admin).post("/users/", {"email": "newbie@acme.test", "name": "New", "role": "responder"})
    assert "invitation to newbie@acme.test not sent" in caplog.text
    assert not DevMessage.objects.exists() and not mail.outbox


def test_password_reset_answers_alike_for_known_and_unknown_addresses_and_mails_from_a_task(admin, settings):
    settings.ILERT_KICK_TASKS = False  # nothing leaves the request: the task does the lookup and the mail
    known = Client().post("/password/reset/", {"email": admin.email})
    unknown = Client().post("/password/reset/", {"email": "nobody@acme.test"})
    assert known.status_code == unknown.status_code == 302 and known["Location"] == unknown["Location"]
    assert not mail.outbox

    from accounts import tasks

    tasks.send_password_reset(admin.email)
    tasks.send_password_reset("nobody@acme.test")
    assert [m.to for m in mail.outbox] == [[admin.email]]
