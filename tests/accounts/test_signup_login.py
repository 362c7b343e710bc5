import re
import subprocess
import sys

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import ApiKey, Tenant, User
from accounts.services import authenticate_api_key


def test_signup_creates_an_organisation_and_its_admin(db):
    client = Client()
    response = client.post("/signup/", {
        "organisation": "Hooli", "name": "Gavin", "email": "gavin@hooli.test",
        "password": "nucleus is the future", "timezone": "America/Los_Angeles",
    })
    assert response.status_code == 302
    user = User.objects.get(email="gavin@hooli.test")
    assert user.role == "admin" and user.tenant.name == "Hooli"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("field, value, message", [
    ("timezone", "Moon/Base", "Unknown time zone"),
    ("password", "short", "at least 10"),
    ("email", "nope", "valid email"),
])
def test_signup_refuses_bad_input_and_changes_nothing(db, field, value, message):
    data = {"organisation": "Pied Piper", "name": "R", "email": "r@pp.test",
            "password": "middle out compression", "timezone": "UTC"}
    data[field] = value
    response = Client().post("/signup/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Tenant.objects.filter(name="Pied Piper").exists()


def test_signup_refuses_a_taken_name_or_email(admin, tenant):
    data = {"organisation": "acme", "name": "X", "email": "new@x.test", "password": "a perfectly fine pass", "timezone": "UTC"}
    assert "already exists" in Client().post("/signup/", data).content.decode()
    data.update(organisation="Other", email=admin.email)
    assert "already exists" in Client().post("/signup/", data).content.decode()
    assert Tenant.objects.count() == 1


def test_failed_logins_are_throttled_per_email(admin, settings):
    settings.LOGIN_FAILURE_LIMIT = "3/5minute"
    client = Client()
    for _ in range(3):
        assert client.post("/login/", {"username": admin.email, "password": "wrong"}).status_code == 200
    blocked = client.post("/login/", {"username": admin.email, "password": "correct horse battery"})
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert "Too many failed attempts" in blocked.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_good_login_works(admin):
    client = Client()
    response = client.post("/login/", {"username": admin.email, "password": "correct horse battery"})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(admin.pk)


def test_password_reset_sends_a_working_link(admin):
    client = Client()
    client.post("/password/reset/", {"email": admin.email})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/password/reset/\S+/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "brand new secret 1", "new_password2": "brand new secret 1"})
    assert done.status_code == 302
    admin.refresh_from_db()
    assert admin.check_password("brand new secret 1")


def test_create_tenant_prints_the_api_key_last(db, capsys):
    call_command("create_tenant", "Umbrella", "--admin-email", "wesker@umbrella.test", "--password", "raccoon city 1998", "--api-key")
    lines = capsys.readouterr().out.strip().splitlines()
    secret = lines[-1]
    key = authenticate_api_key(secret)
    assert key is not None and key.user.email == "wesker@umbrella.test" and key.user.role == "admin"
    assert User.objects.get(email="wesker@umbrella.test").check_password("raccoon city 1998")


def test_create_tenant_without_password_sends_an_invitation(db):
    call_command("create_tenant", "Tyrell", "--admin-email", "eldon@tyrell.test")
    assert "/invitation/" in mail.outbox[0].body
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("args", [
    ["Acme", "--admin-email", "someone@new.test"],
    ["Brand New", "--admin-email", "ada@acme.test"],
    ["Brand New", "--admin-email", "x@y.test", "--timezone", "Nowhere/Else"],
])
def test_create_tenant_fails_clearly(admin, args):
    with pytest.raises(CommandError) as excinfo:
        call_command("create_tenant", *args)
    assert str(excinfo.value)
    assert Tenant.objects.count() == 1


def test_create_tenant_exits_non_zero_from_the_shell(tmp_path):
    env = {"SECRET_KEY": "x", "PATH": "/usr/bin:/bin", "ILERT_DATA_DIR": str(tmp_path)}

    def manage(*args):
        return subprocess.run([sys.executable, "manage.py", *args], capture_output=True, text=True, env=env)

    assert manage("migrate").returncode == 0
    created = manage("create_tenant", "X", "--admin-email", "x@x.test", "--password", "long enough pass", "--api-key")
    assert created.returncode == 0 and created.stdout.strip().splitlines()[-1].startswith("ilk_")
    again = manage("create_tenant", "X", "--admin-email", "y@x.test")
    assert again.returncode != 0
    assert "already exists" in again.stderr
