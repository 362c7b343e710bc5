"""Schemathesis over the whole management API, from its own OpenAPI schema: whatever a client
sends, the answer is never a 5xx. Runs in-process against the WSGI app with a real API key."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from ilert.wsgi import application

from .conftest import client_for

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def keep_db_connection():
    """Calling the WSGI app directly fires request_started/finished, whose close_old_connections
    would close the connection holding the test's transaction; Django's test client unhooks it too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_header(admin, tenant, responder, keep_db_connection):
    client = client_for(admin)
    return {"Authorization": client._credentials["HTTP_AUTHORIZATION"]}


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_makes_the_api_fail(case, auth_header):
    response = case.call(headers=auth_header)
    case.validate_response(response, checks=[not_a_server_error])
