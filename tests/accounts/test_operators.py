"""Platform operators (Django staff) cannot be captured from inside an organisation (review of
issue 13): sign-up cannot make the operators' organisation, and an organisation's admin cannot
re-address, demote or deactivate an operator. A changed email address is told to the old one."""

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Tenant, User
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_signing_up_as_operators_does_not_capture_later_superusers():
    Client().post("/signup/", {"organisation": "Operators", "name": "Mallory", "email": "mallory@evil.test",
                               "password": "a long enough password", "timezone": "UTC"})
    theirs = Tenant.objects.get(name="Operators")
    root = User.objects.create_superuser("root@platform.test", "a long enough password")
    assert root.tenant != theirs and root.tenant.platform and not theirs.platform
    assert User.objects.create_superuser("root2@platform.test", "another long password").tenant == root.tenant


def test_an_organisation_admin_cannot_take_over_an_operator(admin, tenant):
    operator = UserFactory(tenant=tenant, role="admin", email="op@acme.test", is_staff=True, is_superuser=True)
    api = client_for(admin)
    for body in ({"email": "mine@evil.test"}, {"role": "stakeholder"}, {"name": "Renamed"}):
        assert api.patch(f"/api/v1/users/{operator.pk}", body, format="json").status_code == 403
    assert api.delete(f"/api/v1/users/{operator.pk}").status_code == 403
    operator.refresh_from_db()
    assert operator.email == "op@acme.test" and operator.role == "admin" and operator.is_active


def test_a_changed_email_address_is_told_to_the_old_one(admin, responder, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).patch(f"/api/v1/users/{responder.pk}", {"email": "rita@elsewhere.test"},
                                           format="json")
    assert response.status_code == 200
    notice = [m for m in mail.outbox if m.to == ["rita@acme.test"]]
    assert len(notice) == 1 and "rita@elsewhere.test" in notice[0].body and admin.display_name in notice[0].body
