"""Bad input to the incident pages is never a 500 (on SQLite and PostgreSQL alike), and the bulk
form only redirects within the site."""

import pytest
from django.test import Client

from alerts.models import Incident

from .factories import alert, make_source

pytestmark = pytest.mark.django_db

HUGE = ["9223372036854775808", "99999999999999999999999999", "1" * 400, "²", "١٢", "0"]


def logged_in(user):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def incident(tenant):
    return alert(make_source(tenant, name="Prometheus"), "db-1 down").incident


@pytest.mark.parametrize("value", HUGE + ["9223372036854775807", "-1", "abc"])
def test_an_out_of_range_source_filter_lists_nothing_instead_of_failing(admin, incident, value):
    response = logged_in(admin).get("/incidents/", {"source": value})
    assert response.status_code == 200
    if value.isascii() and value.isdigit():  # a number, just not one of ours
        assert "db-1 down" not in response.content.decode()
    rows = logged_in(admin).get("/incidents/", {"source": value}, HTTP_HX_REQUEST="true")
    assert rows.status_code == 200


def test_the_source_filter_still_filters(admin, tenant, incident):
    other = alert(make_source(tenant, name="Grafana"), "api slow").incident
    page = logged_in(admin).get("/incidents/", {"source": str(incident.alert_source_id)}).content.decode()
    assert "db-1 down" in page and other.summary not in page


@pytest.mark.parametrize("value", HUGE)
def test_bulk_actions_ignore_out_of_range_ids(admin, incident, value):
    response = logged_in(admin).post("/incidents/bulk", {"action": "resolve", "ids": [value, str(incident.pk)]})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "RESOLVED"


def test_bulk_actions_with_only_out_of_range_ids_change_nothing(admin, incident):
    response = logged_in(admin).post("/incidents/bulk", {"action": "accept", "ids": HUGE})
    assert response.status_code == 302
    assert Incident.objects.get().status == "PENDING"


def test_an_unknown_bulk_action_is_a_400(admin, incident):
    response = logged_in(admin).post("/incidents/bulk", {"action": "explode", "ids": [incident.pk]})
    assert response.status_code == 400
    assert Incident.objects.get().status == "PENDING"


@pytest.mark.parametrize("value", HUGE)
def test_reassigning_to_an_out_of_range_user_is_refused_politely(admin, incident, value):
    response = logged_in(admin).post(f"/incidents/{incident.pk}/reassign", {"user": value})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.assigned_to is None


@pytest.mark.parametrize("target", [
    "https://evil.example/phish", "//evil.example/phish", "http://evil.example", "https:/\\evil.example",
    "/\\evil.example", "javascript:alert(1)", " //evil.example",
])
def test_the_bulk_form_does_not_redirect_off_site(admin, incident, target):
    response = logged_in(admin).post("/incidents/bulk", {"action": "accept", "ids": [incident.pk], "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/incidents/"


def test_the_bulk_form_returns_to_the_filtered_list(admin, incident):
    response = logged_in(admin).post("/incidents/bulk", {"action": "accept", "ids": [incident.pk],
                                                         "next": "/incidents/?status=pending&page=2"})
    assert response["Location"] == "/incidents/?status=pending&page=2"
