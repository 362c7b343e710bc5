"""Service groups run from the dashboard: create, rename, reorder, delete; services moved into and
out of a group; the public page follows; other tenants' groups and services stay out of reach."""

import pytest
from django.test import Client

from status.models import Service, ServiceGroup

from .factories import make_group, make_page, make_service

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_creates_renames_and_deletes_a_group(tenant, admin):
    client = _client(admin)
    response = client.post("/status-pages/services/", {"form": "group", "name": "Core", "description": "", "order": 0})
    assert response.status_code == 302
    group = ServiceGroup.objects.get(tenant=tenant, name="Core")
    assert b"Core" in client.get("/status-pages/services/").content
    response = client.post(f"/status-pages/groups/{group.pk}/",
                           {"form": "group", "name": "Core platform", "description": "APIs", "order": 3})
    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.name, group.description, group.order) == ("Core platform", "APIs", 3)
    api = make_service(tenant, name="API", group=group)
    assert client.post(f"/status-pages/groups/{group.pk}/delete").status_code == 302
    assert not ServiceGroup.objects.filter(pk=group.pk).exists()
    api.refresh_from_db()
    assert api.group is None  # the service stays


def test_a_bad_rename_is_shown_and_changes_nothing(tenant, admin):
    group = make_group(tenant, name="Core")
    response = _client(admin).post(f"/status-pages/groups/{group.pk}/", {"form": "group", "name": "", "order": "x"})
    assert response.status_code == 200 and b"This field is required" in response.content
    group.refresh_from_db()
    assert group.name == "Core"


def test_services_move_into_and_out_of_a_group_and_the_page_follows(tenant, admin):
    group = make_group(tenant, name="Core")
    api = make_service(tenant, name="API")
    make_page(tenant, services_=[api], name="Acme", slug="acme")
    client = _client(admin)
    assert client.post(f"/status-pages/groups/{group.pk}/", {"form": "add", "service": api.pk}).status_code == 302
    api.refresh_from_db()
    assert api.group == group
    components = {c["name"]: c for c in Client().get("/status/acme/api/v2/components.json").json()["components"]}
    assert components["API"]["group_id"] == components["Core"]["id"]
    detail = client.get(f"/status-pages/groups/{group.pk}/").content.decode()
    assert "API" in detail and "Move out" in detail
    assert client.post(f"/status-pages/groups/{group.pk}/", {"form": "remove", "service": api.pk}).status_code == 302
    api.refresh_from_db()
    assert api.group is None
    components = {c["name"]: c for c in Client().get("/status/acme/api/v2/components.json").json()["components"]}
    assert components["API"]["group_id"] is None and "Core" not in components


def test_groups_are_reordered_one_place_at_a_time(tenant, admin):
    first, second, third = (make_group(tenant, name=n) for n in ("A", "B", "C"))  # all order 0
    client = _client(admin)
    client.post(f"/status-pages/groups/{third.pk}/move", {"direction": "up"})
    assert [g.name for g in ServiceGroup.objects.filter(tenant=tenant)] == ["A", "C", "B"]
    client.post(f"/status-pages/groups/{first.pk}/move", {"direction": "down"})
    assert [g.name for g in ServiceGroup.objects.filter(tenant=tenant)] == ["C", "A", "B"]
    client.post(f"/status-pages/groups/{third.pk}/move", {"direction": "up"})  # already first: nothing moves
    assert [g.name for g in ServiceGroup.objects.filter(tenant=tenant)] == ["C", "A", "B"]
    page = client.get("/status-pages/services/").content.decode()
    at = [page.index(f'href="/status-pages/groups/{g.pk}/"') for g in (third, first, second)]
    assert at == sorted(at)


def test_other_tenants_groups_and_services_are_out_of_reach(tenant, admin, other_tenant):
    theirs = make_group(other_tenant, name="Theirs")
    their_service = make_service(other_tenant, name="Their API")
    mine = make_group(tenant, name="Mine")
    client = _client(admin)
    assert client.get(f"/status-pages/groups/{theirs.pk}/").status_code == 404
    assert client.post(f"/status-pages/groups/{theirs.pk}/delete").status_code == 404
    assert client.post(f"/status-pages/groups/{theirs.pk}/move", {"direction": "up"}).status_code == 404
    response = client.post(f"/status-pages/groups/{mine.pk}/", {"form": "add", "service": their_service.pk})
    assert response.status_code == 200
    their_service.refresh_from_db()
    assert their_service.group is None and ServiceGroup.objects.filter(pk=theirs.pk).exists()
    assert client.post(f"/status-pages/groups/{mine.pk}/", {"form": "add", "service": "x"}).status_code == 200


def test_only_admins_edit_groups(tenant, responder):
    group = make_group(tenant, name="Core")
    response = _client(responder).post(f"/status-pages/groups/{group.pk}/", {"form": "group", "name": "Mine",
                                                                             "order": 0})
    assert response.status_code == 403
    assert _client(responder).post(f"/status-pages/groups/{group.pk}/delete").status_code == 403
    group.refresh_from_db()
    assert group.name == "Core" and Service.objects.count() == 0
