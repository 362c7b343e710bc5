"""Checks that are decided by the database, not by a read-then-write race (PostgreSQL, threads)."""

import threading

import pytest
from django.db import connection

from accounts import services
from accounts.models import Tenant, User
from ilert.errors import Conflict
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes = []

    def run(call):
        try:
            barrier.wait(timeout=60)  # a ceiling: starting a thread takes no time
            outcomes.append(call())
        except Exception as exc:  # collected and asserted by the test
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_two_sign_ups_with_one_name_make_one_organisation():
    outcomes = race(*[
        (lambda n=n: services.create_tenant("Racing Co", admin_email=f"a{n}@racing.test", password="a long passphrase"))
        for n in range(4)
    ])
    assert Tenant.objects.filter(name="Racing Co").count() == 1
    assert sum(isinstance(o, tuple) for o in outcomes) == 1
    assert all(isinstance(o, (tuple, Conflict)) for o in outcomes), outcomes


def test_two_admins_demoting_each_other_at_once_leave_one_admin(tenant):
    ada = UserFactory(tenant=tenant, role="admin")
    bob = UserFactory(tenant=tenant, role="admin")
    fresh = User.objects.get  # each request loads its own objects (shared ones change under the other thread)
    outcomes = race(lambda: services.update_user(fresh(pk=ada.pk), by=fresh(pk=bob.pk), role="responder"),
                    lambda: services.update_user(fresh(pk=bob.pk), by=fresh(pk=ada.pk), role="responder"))
    assert User.objects.filter(tenant=tenant, role="admin").count() == 1
    # The loser is refused: as the last admin (Conflict) if both checked at once, or as no longer an
    # admin (403) if it loaded its own user after the winner committed.
    assert sorted(type(o).__name__ for o in outcomes) in (["Conflict", "User"], ["DomainError", "User"]), outcomes
