"""The status REST API (issue 17): roles, tenancy of bodies, bad input answered 4xx with nothing changed."""

from datetime import timedelta

import pytest

from ilert import clock
from status.models import Service, StatusIncident, Subscriber

from .factories import make_page, make_service

pytestmark = pytest.mark.django_db


def test_a_responder_posts_an_incident_and_updates_and_a_stakeholder_reads_it(tenant, responder_api,
                                                                              stakeholder_api):
    service = make_service(tenant, name="API")
    created = responder_api.post("/api/v1/status-incidents/", {
        "title": "API errors", "message": "Investigating", "impact": "major",
        "affected": [{"service": service.pk, "impact": "major_outage"}]}, format="json")
    assert created.status_code == 201, created.json()
    incident_id = created.json()["id"]
    for status in ("identified", "resolved"):
        answer = responder_api.post(f"/api/v1/status-incidents/{incident_id}/updates/",
                                    {"status": status, "message": f"now {status}"}, format="json")
        assert answer.status_code == 201, answer.json()
    body = stakeholder_api.get(f"/api/v1/status-incidents/{incident_id}/").json()
    assert body["status"] == "resolved" and [u["status"] for u in body["updates"]] == ["resolved", "identified",
                                                                                      "investigating"]
    assert stakeholder_api.get(f"/api/v1/services/{service.pk}/").json()["status"] == "operational"
    refused = stakeholder_api.post("/api/v1/status-incidents/", {"title": "x", "message": "y"}, format="json")
    assert refused.status_code == 403


def test_bad_input_is_a_400_that_changes_nothing(tenant, other_tenant, responder_api):
    theirs = make_service(other_tenant)
    mine = make_service(tenant)
    for body in ({"title": "x", "message": "y", "affected": [{"service": theirs.pk}]},
                 {"title": "x", "message": "y", "status": "in_progress"},
                 {"title": "x", "message": " "},
                 {"title": "x", "message": "y", "affected": [{"service": mine.pk, "impact": "on fire"}]},
                 {"title": "x", "message": "y", "kind": "maintenance"}):
        answer = responder_api.post("/api/v1/status-incidents/", body, format="json")
        assert answer.status_code == 400, (body, answer.status_code)
        assert answer.json()["code"] == "invalid"
    assert not StatusIncident.objects.exists()
    incident = responder_api.post("/api/v1/status-incidents/", {"title": "x", "message": "y"}, format="json").json()
    answer = responder_api.post(f"/api/v1/status-incidents/{incident['id']}/updates/",
                                {"status": "scheduled", "message": "z"}, format="json")
    assert answer.status_code == 400


def test_maintenance_is_scheduled_through_the_api(tenant, responder_api):
    service = make_service(tenant)
    start = clock.now() + timedelta(days=1)
    answer = responder_api.post("/api/v1/status-incidents/", {
        "kind": "maintenance", "title": "DB upgrade", "message": "Planned", "scheduled_for": start.isoformat(),
        "scheduled_until": (start + timedelta(hours=1)).isoformat(), "affected": [{"service": service.pk}]},
        format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["status"] == "scheduled"
    backwards = responder_api.post("/api/v1/status-incidents/", {
        "kind": "maintenance", "title": "x", "message": "y", "scheduled_for": start.isoformat(),
        "scheduled_until": (start - timedelta(hours=1)).isoformat()}, format="json")
    assert backwards.status_code == 400


def test_only_admins_manage_services_and_pages(tenant, api, responder_api):
    assert responder_api.post("/api/v1/services/", {"name": "X"}, format="json").status_code == 403
    created = api.post("/api/v1/services/", {"name": "Checkout"}, format="json")
    assert created.status_code == 201
    page = api.post("/api/v1/status-pages/", {"name": "Acme", "slug": "acme", "services": [created.json()["id"]],
                                              "published": True}, format="json")
    assert page.status_code == 201, page.json()
    assert page.json()["url"].endswith("/status/acme/")
    taken = api.post("/api/v1/status-pages/", {"name": "Other", "slug": "acme"}, format="json")
    assert taken.status_code == 409
    bad = api.patch(f"/api/v1/status-pages/{page.json()['id']}/", {"brand_color": "red"}, format="json")
    assert bad.status_code == 400
    status = responder_api.post(f"/api/v1/services/{created.json()['id']}/status/",
                                {"status": "degraded_performance"}, format="json")
    assert status.status_code == 200 and status.json()["status"] == "degraded_performance"


def test_an_audience_link_is_shown_once(tenant, api):
    page = make_page(tenant, visibility="audience")
    first = api.post(f"/api/v1/status-pages/{page.pk}/access-link/").json()["url"]
    assert "?access=" in first
    assert "access" not in str(api.get(f"/api/v1/status-pages/{page.pk}/").json().get("url"))


def test_webhook_subscribers_show_their_secret_once_and_addresses_only_to_admins(tenant, api, responder_api,
                                                                                  settings):
    settings.ALLOW_PRIVATE_TARGETS = True
    page = make_page(tenant)
    created = responder_api.post("/api/v1/status-subscribers/", {
        "page": page.pk, "kind": "webhook", "url": "http://127.0.0.1:9/hook"}, format="json")
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    assert api.get(f"/api/v1/status-subscribers/{created.json()['id']}/").json()["secret"] is None
    assert responder_api.get("/api/v1/status-subscribers/").json()["results"] == []
    email = responder_api.post("/api/v1/status-subscribers/", {"page": page.pk, "email": "x@example.org"},
                               format="json")
    assert email.status_code == 201 and email.json()["confirmed_at"] is None


def test_a_stakeholder_follows_services_for_themselves(tenant, stakeholder, stakeholder_api, other_tenant):
    api_service = make_service(tenant)
    answer = stakeholder_api.post("/api/v1/my-service-subscriptions/", {"services": [api_service.pk]},
                                  format="json")
    assert answer.status_code == 200 and answer.json() == {"services": [api_service.pk]}
    assert Subscriber.objects.get(user=stakeholder).confirmed_at is not None
    theirs = make_service(other_tenant)
    assert stakeholder_api.post("/api/v1/my-service-subscriptions/", {"services": [theirs.pk]},
                                format="json").status_code == 400
    assert stakeholder_api.post("/api/v1/my-service-subscriptions/", {"services": []},
                                format="json").json() == {"services": []}
    assert not Subscriber.objects.filter(user=stakeholder).exists()
    assert Service.objects.filter(tenant=tenant).count() == 1
