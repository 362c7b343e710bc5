"""Policies and levels through the API and the dashboard."""

import pytest
from django.test import Client

from escalation.models import EscalationLevel, EscalationPolicy
from tests.alerts.factories import alert, make_source
from tests.factories import TeamFactory, UserFactory

from .factories import make_policy


def test_a_policy_with_levels_is_created_and_replaced_in_order(api, tenant, responder):
    team = TeamFactory(tenant=tenant)
    response = api.post("/api/v1/escalation-policies", {
        "name": "Primary", "repeat_count": 2, "routing_key": "db",
        "levels": [{"users": [responder.pk], "timeout_minutes": 5}, {"teams": [team.pk], "notify_mode": "round_robin"}],
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(lvl["position"], lvl["timeout_minutes"]) for lvl in body["levels"]] == [(1, 5), (2, 30)]
    pk = body["id"]
    swapped = api.patch(f"/api/v1/escalation-policies/{pk}", {
        "levels": [{"teams": [team.pk]}, {"users": [responder.pk], "timeout_minutes": 1}],
    }, format="json").json()
    assert [lvl["users"] for lvl in swapped["levels"]] == [[], [responder.pk]]
    assert EscalationLevel.objects.filter(policy_id=pk).count() == 2


@pytest.mark.parametrize("payload, field", [
    ({"name": ""}, "name"),
    ({"name": "x", "repeat_count": 10}, "repeat_count"),
    ({"name": "x", "levels": [{"timeout_minutes": 1441}]}, "levels[0].timeout_minutes"),
    ({"name": "x", "levels": [{"notify_mode": "shout"}]}, "levels[0].notify_mode"),
    ({"name": "x", "levels": [{"users": [999999]}]}, "levels[0].users"),
])
def test_bad_policies_get_400(api, payload, field):
    response = api.post("/api/v1/escalation-policies", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not EscalationPolicy.objects.exists()


def test_targets_from_another_tenant_are_refused(api, outsider, other_tenant):
    foreign_team = TeamFactory(tenant=other_tenant)
    for level in ({"users": [outsider.pk]}, {"teams": [foreign_team.pk]}):
        response = api.post("/api/v1/escalation-policies", {"name": "x", "levels": [level]}, format="json")
        assert response.status_code == 400
    assert not EscalationPolicy.objects.exists()


def test_routing_keys_are_unique_per_tenant(api, tenant):
    make_policy(tenant, routing_key="db")
    response = api.post("/api/v1/escalation-policies", {"name": "y", "routing_key": "db"}, format="json")
    assert response.status_code == 409


def test_responders_cannot_edit_policies(responder_api, tenant):
    policy = make_policy(tenant)
    assert responder_api.get(f"/api/v1/escalation-policies/{policy.pk}").status_code == 200
    assert responder_api.patch(f"/api/v1/escalation-policies/{policy.pk}", {"name": "z"}, format="json").status_code == 403


def test_the_editor_adds_moves_and_removes_levels(admin, tenant):
    ana, ben = UserFactory(tenant=tenant, name="Ana"), UserFactory(tenant=tenant, name="Ben")
    client = Client()
    client.force_login(admin)
    created = client.post("/escalation-policies/", {"name": "Web", "repeat_count": 0})
    policy = EscalationPolicy.objects.get(name="Web")
    assert created["Location"] == f"/escalation-policies/{policy.pk}/"
    client.post(f"/escalation-policies/{policy.pk}/levels", {"timeout_minutes": 5, "notify_mode": "all", "users": [ana.pk]})
    client.post(f"/escalation-policies/{policy.pk}/levels", {"timeout_minutes": 10, "notify_mode": "all", "users": [ben.pk]})
    second = policy.levels.get(position=2)
    client.post(f"/escalation-levels/{second.pk}/", {"up": "1"})
    assert [list(lvl.users.values_list("name", flat=True)) for lvl in policy.levels.order_by("position")] == [["Ben"], ["Ana"]]
    page = client.get(f"/escalation-policies/{policy.pk}/").content.decode()
    assert "Level 2" in page and "right now reaches" in page
    client.post(f"/escalation-levels/{second.pk}/", {"delete": "1"})
    assert list(policy.levels.values_list("position", flat=True)) == [1]


def test_the_incident_page_shows_escalation_progress(admin, tenant):
    from escalation import engine

    policy = make_policy(tenant, [{"users": [admin], "timeout_minutes": 5}, {"users": [admin]}])
    incident = alert(make_source(tenant, escalation_policy=policy)).incident
    engine.tick()
    client = Client()
    client.force_login(admin)
    panel = client.get(f"/panels/escalation/{incident.pk}").content.decode()
    assert 'id="escalation-level">1<' in panel and "Next escalation" in panel and "Ada Admin" in panel


def test_a_policy_read_back_saves_again_after_a_member_is_deactivated(api, tenant, responder, admin):
    policy = make_policy(tenant, [{"users": [responder, admin]}])
    from accounts import services as account_services

    account_services.deactivate_user(responder, by=admin)
    body = api.get(f"/api/v1/escalation-policies/{policy.pk}").json()
    again = api.put(f"/api/v1/escalation-policies/{policy.pk}", body, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["levels"][0]["users"] == body["levels"][0]["users"]


def test_another_tenant_may_use_the_same_routing_key(api, tenant, other_tenant):
    make_policy(other_tenant, routing_key="db")
    response = api.post("/api/v1/escalation-policies", {"name": "mine", "routing_key": "db"}, format="json")
    assert response.status_code == 201
