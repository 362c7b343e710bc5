"""Login and password-reset throttles (issue 13.3): per account and per (account, client), never
per client alone; the client address from X-Forwarded-For only through trusted proxies; the Django
admin login and password reset under the same limits."""

import pytest
from django.core import mail
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


def _login(client, user_or_email, password, path="/login/", **extra):
    email = getattr(user_or_email, "email", user_or_email)
    return client.post(path, {"username": email, "password": password}, **extra)


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURE_LIMIT = "3/5minute"
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = "6/hour"
    return settings


def test_one_persons_typos_do_not_lock_out_others_at_the_same_address(admin, responder, limits):
    office = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(3):
        assert _login(Client(), admin, "wrong", **office).status_code == 200
    assert _login(Client(), admin, PASSWORD, **office).status_code == 429
    assert _login(Client(), responder, PASSWORD, **office).status_code == 302


def test_the_account_is_throttled_from_anywhere_after_many_failures(admin, limits):
    for n in range(6):
        assert _login(Client(), admin, "wrong", REMOTE_ADDR=f"198.51.100.{n}").status_code == 200
    blocked = _login(Client(), admin, PASSWORD, REMOTE_ADDR="198.51.100.99")
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    assert "Too many failed attempts" in blocked.content.decode()


def test_a_browser_that_logged_in_before_is_not_locked_out_by_strangers(admin, limits):
    own = Client()
    assert _login(own, admin, PASSWORD, REMOTE_ADDR="192.0.2.10").status_code == 302
    own.post("/logout/")
    for n in range(8):  # an attacker spreads failures over many addresses
        _login(Client(), admin, "wrong", REMOTE_ADDR=f"198.51.100.{n}")
    assert _login(Client(), admin, PASSWORD, REMOTE_ADDR="192.0.2.11").status_code == 429
    assert _login(own, admin, PASSWORD, REMOTE_ADDR="192.0.2.10").status_code == 302


def test_forwarded_for_counts_only_through_trusted_proxies(admin, limits):
    limits.LOGIN_ACCOUNT_FAILURE_LIMIT = "50/hour"  # this test is about the per-client count
    # Untrusted peer: a client cannot pick a new address per attempt by sending the header.
    for n in range(3):
        _login(Client(), admin, "wrong", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}")
    assert _login(Client(), admin, PASSWORD, REMOTE_ADDR="203.0.113.7",
                  HTTP_X_FORWARDED_FOR="10.9.9.200").status_code == 429

    # Behind a trusted proxy every user arrives from it: the client is the forwarded address.
    limits.TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(3):
        _login(Client(), admin, "wrong", HTTP_X_FORWARDED_FOR="198.51.100.5, 10.0.0.3", **proxy)
    assert _login(Client(), admin, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.5", **proxy).status_code == 429
    assert _login(Client(), admin, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.6", **proxy).status_code == 302


def test_the_django_admin_login_is_throttled_too(tenant, limits):
    staff = UserFactory(tenant=tenant, role="admin", email="root@acme.test", is_staff=True, is_superuser=True)
    for _ in range(3):
        assert _login(Client(), staff, "wrong", path="/django-admin/login/").status_code == 200
    blocked = _login(Client(), staff, PASSWORD, path="/django-admin/login/")
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    assert _login(Client(), staff, PASSWORD, path="/django-admin/login/", REMOTE_ADDR="192.0.2.1").status_code == 302


def test_password_reset_is_limited_per_address_alike_for_known_and_unknown(admin, settings):
    settings.PASSWORD_RESET_LIMIT = "2/hour"
    answers = {}
    for email in (admin.email, "nobody@acme.test"):
        codes = [Client().post("/password/reset/", {"email": email}, REMOTE_ADDR=f"192.0.2.{n}").status_code
                 for n in range(4)]
        answers[email] = codes
    assert answers[admin.email] == answers["nobody@acme.test"] == [302, 302, 429, 429]
    assert len(mail.outbox) == 2  # no mail bomb: two mails to the admin, none beyond the limit


def test_password_reset_is_limited_per_client(admin, settings):
    settings.PASSWORD_RESET_CLIENT_LIMIT = "3/hour"
    codes = [Client().post("/password/reset/", {"email": f"x{n}@acme.test"}, REMOTE_ADDR="203.0.113.9").status_code
             for n in range(4)]
    assert codes == [302, 302, 302, 429]
