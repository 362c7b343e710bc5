"""Sign up, log in, invite a colleague, create and revoke an API key, in a real Chromium."""

import re

import httpx
import pytest
from django.core import mail

from accounts.models import ApiKey, Tenant, User

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_then_log_out_and_in_again(page, live_server):
    page.goto("/signup/")
    page.fill("input[name=organisation]", "Initech")
    page.fill("input[name=name]", "Peter Gibbons")
    page.fill("input[name=email]", "peter@initech.test")
    page.fill("input[name=password]", "tps reports are due")
    page.fill("input[name=timezone]", "America/Chicago")
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    assert "Initech" in page.inner_text(".sidebar")
    assert Tenant.objects.get(name="Initech").timezone == "America/Chicago"
    assert User.objects.get(email="peter@initech.test").role == "admin"

    page.click("text=Log out")
    page.wait_for_url("**/login/")
    page.fill("input[name=username]", "peter@initech.test")
    page.fill("input[name=password]", "wrong password!!")
    page.click("button[type=submit]")
    assert "correct email" in page.inner_text(".card")
    login(page, "peter@initech.test", "tps reports are due")
    assert "Good to see you" in page.inner_text("h1")


def test_invite_a_colleague_who_joins_through_the_emailed_link(page, admin, settings, live_server):
    settings.SITE_URL = live_server.url
    login(page, admin.email, "correct horse battery")
    page.click("nav >> text=Users")
    page.fill("#invite-form input[name=email]", "milton@acme.test")
    page.fill("#invite-form input[name=name]", "Milton")
    page.select_option("#invite-form select[name=role]", "responder")
    page.click("#invite-form button[type=submit]")
    assert "Invitation sent to milton@acme.test" in page.inner_text(".messages")
    assert "Invited" in page.inner_text("#users")

    link = re.search(r"(http://\S+/invitation/\S+/)", mail.outbox[-1].body).group(1)
    page.click("text=Log out")
    page.goto(link)
    page.fill("input[name=password]", "my red stapler 42")
    page.fill("input[name=password_again]", "my red stapler 42")
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    assert "Milton" in page.inner_text(".sidebar .me")


def test_create_use_and_revoke_an_api_key(page, admin, live_server):
    login(page, admin.email, "correct horse battery")
    page.click("nav >> text=API keys")
    page.fill("input[name=name]", "Terraform")
    page.click("text=Create key")
    secret = page.inner_text("#secret-value").strip()
    assert secret.startswith("ilk_")

    headers = {"Authorization": f"Bearer {secret}"}
    me = httpx.get(f"{live_server.url}/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.json()["email"] == admin.email

    page.goto("/api-keys/")
    assert secret not in page.content()
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("tr[data-key=Terraform] >> text=Revoke")
    page.wait_for_selector("tr[data-key=Terraform] >> text=Revoked")
    assert ApiKey.objects.get(name="Terraform").revoked_at is not None
    assert httpx.get(f"{live_server.url}/api/v1/me", headers=headers).status_code == 401
