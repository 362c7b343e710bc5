import re

import pytest
from django.core import mail

from accounts.models import Team, User
from accounts.services import user_for_invitation


def test_admin_invites_a_colleague_who_sets_a_password(api, client, tenant):
    response = api.post("/api/v1/users", {"email": "New@Acme.test", "name": "Nia", "role": "responder"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["invitation_pending"] is True
    user = User.objects.get(email="new@acme.test")
    assert user.tenant == tenant and not user.has_usable_password()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@acme.test"]
    link = re.search(r"http://\S+/invitation/(\S+)/", message.body)
    assert link, message.body
    assert message.alternatives and "Set your password" in message.alternatives[0][0]

    new_password = {"password": "a long new password", "password_again": "a long new password"}
    page = client.post(f"/invitation/{link.group(1)}/", new_password)
    assert page.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a long new password")
    # the link works once
    assert user_for_invitation(link.group(1)) is None
    assert client.get(f"/invitation/{link.group(1)}/").status_code == 404


def test_a_forged_invitation_link_is_refused(client, db):
    assert client.get("/invitation/forged:token/").status_code == 404


def test_an_expired_invitation_is_refused(api, settings):
    api.post("/api/v1/users", {"email": "late@acme.test"}, format="json")
    token = re.search(r"/invitation/(\S+)/", mail.outbox[0].body).group(1)
    settings.INVITATION_MAX_AGE = -1
    assert user_for_invitation(token) is None


@pytest.mark.parametrize("payload, field", [
    ({"email": "not-an-email"}, "email"),
    ({"email": "x@acme.test", "role": "owner"}, "role"),
    ({"email": "ada@acme.test"}, "email"),
    ({}, "email"),
])
def test_bad_user_input_gets_a_clear_400(api, payload, field):
    before = User.objects.count()
    response = api.post("/api/v1/users", payload, format="json")
    assert response.status_code in (400, 409)
    assert field in response.json()["message"]
    assert User.objects.count() == before


def test_stakeholders_read_but_never_write_the_organisation(stakeholder_api, admin):
    assert stakeholder_api.get("/api/v1/users").status_code == 200
    assert stakeholder_api.get("/api/v1/teams").status_code == 200
    assert stakeholder_api.post("/api/v1/teams", {"name": "x"}, format="json").status_code == 403
    assert stakeholder_api.post("/api/v1/api-keys", {"name": "x"}, format="json").status_code == 403
    assert stakeholder_api.delete(f"/api/v1/users/{admin.pk}").status_code == 403
    assert not Team.objects.exists()


def test_responders_cannot_manage_users(responder_api, admin):
    assert responder_api.get("/api/v1/users").status_code == 200
    assert responder_api.post("/api/v1/users", {"email": "z@acme.test"}, format="json").status_code == 403
    assert responder_api.patch(f"/api/v1/users/{admin.pk}", {"role": "stakeholder"}, format="json").status_code == 403
    assert responder_api.delete(f"/api/v1/users/{admin.pk}").status_code == 403
    admin.refresh_from_db()
    assert admin.role == "admin" and admin.is_active


def test_responders_edit_their_own_profile(responder_api, responder):
    changes = {"name": "Rita R.", "timezone": "Asia/Kolkata", "role": "admin"}
    response = responder_api.patch("/api/v1/me", changes, format="json")
    assert response.status_code == 200
    responder.refresh_from_db()
    assert (responder.name, responder.timezone, responder.role) == ("Rita R.", "Asia/Kolkata", "responder")


def test_admins_manage_users(api, responder):
    assert api.patch(f"/api/v1/users/{responder.pk}", {"role": "stakeholder"}, format="json").status_code == 200
    responder.refresh_from_db()
    assert responder.role == "stakeholder"
    assert api.delete(f"/api/v1/users/{responder.pk}").status_code == 204
    responder.refresh_from_db()
    assert not responder.is_active


def test_the_last_admin_cannot_be_demoted_or_removed(api, admin, responder):
    response = api.patch(f"/api/v1/users/{admin.pk}", {"role": "responder"}, format="json")
    assert response.status_code == 409
    assert api.delete(f"/api/v1/users/{admin.pk}").status_code == 409
    admin.refresh_from_db()
    assert admin.role == "admin" and admin.is_active


def test_unknown_time_zone_is_refused(api, responder):
    response = api.patch(f"/api/v1/users/{responder.pk}", {"timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400
    assert "time zone" in response.json()["message"]


def test_teams_only_take_members_of_the_same_tenant(api, responder, outsider):
    response = api.post("/api/v1/teams", {"name": "SRE", "members": [responder.pk, outsider.pk]}, format="json")
    assert response.status_code == 400
    assert "members" in response.json()["fields"]
    assert not Team.objects.exists()
    ok = api.post("/api/v1/teams", {"name": "SRE", "members": [responder.pk]}, format="json")
    assert ok.status_code == 201 and ok.json()["members"] == [responder.pk]
    dup = api.post("/api/v1/teams", {"name": "sre"}, format="json")
    assert dup.status_code == 409


def test_lists_paginate_filter_search_and_order(api, tenant):
    from tests.factories import UserFactory

    for n in range(7):
        UserFactory(tenant=tenant, name=f"Zed {n}", role="stakeholder" if n % 2 else "responder")
    page = api.get("/api/v1/users", {"page_size": 3, "ordering": "-name"}).json()
    assert page["count"] == 8 and len(page["results"]) == 3 and page["next"]
    assert [u["name"] for u in page["results"]] == ["Zed 6", "Zed 5", "Zed 4"]
    stakeholders = api.get("/api/v1/users", {"role": "stakeholder"}).json()
    assert stakeholders["count"] == 3
    assert [u["email"] for u in api.get("/api/v1/users", {"search": "ada@"}).json()["results"]] == ["ada@acme.test"]
    assert api.get("/api/v1/users", {"role": "wizard"}).status_code == 400


def test_stakeholders_set_their_own_name_and_time_zone_but_nothing_else(stakeholder):
    """A read-only role still reads every time in its own zone (issue 15): the profile is theirs."""
    from django.test import Client
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(stakeholder)
    response = api.patch("/api/v1/me", {"timezone": "Asia/Kolkata", "role": "admin"}, format="json")
    assert response.status_code == 200
    browser = Client()
    browser.force_login(stakeholder)
    assert '<button class="btn primary" type="submit">Save</button>' in browser.get("/profile/").content.decode()
    assert browser.post("/profile/", {"name": "Sam S.", "timezone": "America/New_York"}).status_code == 302
    stakeholder.refresh_from_db()
    assert (stakeholder.name, stakeholder.timezone, stakeholder.role) == ("Sam S.", "America/New_York", "stakeholder")
    assert browser.post("/profile/", {"name": "x", "timezone": "Mars/Olympus"}).status_code == 200  # form error
    stakeholder.refresh_from_db()
    assert stakeholder.timezone == "America/New_York"
