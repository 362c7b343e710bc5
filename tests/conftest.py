"""Shared fixtures: three standing users in one tenant (admin, responder, stakeholder) plus an
outsider in another, API clients for them, and the rules for Postgres/Redis/browser tests."""

import os
import shutil

import pytest
from celery import current_app
from django.conf import settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from ilert import kick, ratelimit
from ilert.celery import app as celery_app

from .factories import TenantFactory, UserFactory, make_api_key

IN_CI = os.environ.get("CI", "").lower() == "true"

# Hypothesis measures nothing against the clock (docs/testing.md): no deadline per example, and no
# health check on how long generating the data took (a paused or loaded machine is not a bug).
# A test's own @settings(suppress_health_check=[...]) replaces this list: add HealthCheck.too_slow.
hypothesis_settings.register_profile("ilert", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("ilert")


def _on_postgres():
    return settings.DATABASES["default"]["ENGINE"] in ("ilert.db", "django.db.backends.postgresql")


def _redis_reachable():
    if not settings.REDIS_URL:
        return False
    import redis

    try:
        return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


def pytest_collection_modifyitems(config, items):
    """Skip, with the reason, what this machine cannot run. In CI nothing is skipped: a missing
    service must fail the run, not hide the tests that need it."""
    checks = {
        "postgres": (_on_postgres, "needs PostgreSQL: set DATABASE_URL=postgres://…"),
        "redis": (_redis_reachable, "needs Redis: set REDIS_URL=redis://… to a running server"),
        "browser": (lambda: shutil.which("chromium") is not None, "needs Debian's chromium (/usr/bin/chromium)"),
    }
    results = {}
    for item in items:
        for marker, (check, reason) in checks.items():
            if item.get_closest_marker(marker) is None or IN_CI:
                continue
            if marker not in results:
                results[marker] = check()
            if not results[marker]:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session", autouse=True)
def _no_rate_limit_counts_from_earlier_runs():
    ratelimit.forget_everything()  # Redis keeps counts between test runs


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    ratelimit.reset()
    yield


@pytest.fixture(autouse=True)
def _our_celery_app_stays_current():
    """A Celery app a test makes becomes the current app unless told otherwise, and shared tasks
    (escalation.tasks.step, …) follow the current app: the next tests' kicks would go to that app's
    broker, long stopped (seen under pytest-xdist, where file order differs). Put ours back."""
    yield
    if current_app._get_current_object() is not celery_app:
        celery_app.set_current()
        kick.reset()


@pytest.fixture
def tenant(db):
    return TenantFactory(name="Acme", slug="acme")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(name="Globex", slug="globex")


@pytest.fixture
def admin(tenant):
    return UserFactory(tenant=tenant, role="admin", email="ada@acme.test", name="Ada Admin")


@pytest.fixture
def responder(tenant):
    return UserFactory(tenant=tenant, role="responder", email="rita@acme.test", name="Rita Responder")


@pytest.fixture
def stakeholder(tenant):
    return UserFactory(tenant=tenant, role="stakeholder", email="sam@acme.test", name="Sam Stakeholder")


@pytest.fixture
def outsider(other_tenant):
    return UserFactory(tenant=other_tenant, role="admin", email="otto@globex.test", name="Otto Outsider")


def client_for(user):
    """An API client authenticated with a real API key of `user` (or anonymous for None)."""
    client = APIClient()
    if user is not None:
        role = user.role
        if role == "stakeholder":  # stakeholders cannot create keys: make it as a responder, then demote
            user.role = "responder"
        _key, secret = make_api_key(user)
        if user.role != role:
            user.role = role
            user.save(update_fields=["role"])
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def api(admin):
    return client_for(admin)


@pytest.fixture
def responder_api(responder):
    return client_for(responder)


@pytest.fixture
def stakeholder_api(stakeholder):
    return client_for(stakeholder)


@pytest.fixture
def outsider_api(outsider):
    return client_for(outsider)


@pytest.fixture(scope="session", autouse=True)
def _end_stray_test_db_sessions(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end sessions that child processes (workers, web
    servers of e2e tests) may still hold while they exit; otherwise the drop fails."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def own_connection():
    """A PostgreSQL connection of the test's own, beside the ones in django.db.connections."""
    from django.db import connections

    connection = connections.create_connection("default")
    connection.ensure_connection()
    yield connection
    connection.close()
