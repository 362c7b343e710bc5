"""The incident page's "who is paged next, and when" (escalation.engine.preview): the engine's own
planner decides the next step at its due time, through schedules and overrides; levels that reach
nobody are named as skipped; the end of a round and of the policy are said."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from escalation import engine
from tests.factories import UserFactory
from tests.schedules.factories import make_layer, make_override, make_schedule

from .factories import make_policy
from .test_engine import open_incident

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def people(tenant):
    return {n: UserFactory(tenant=tenant, name=n) for n in ("Ana", "Blair", "Cy")}


def test_the_next_level_is_resolved_at_its_due_time_through_an_override(tenant, people, clock):
    primary = make_schedule(tenant, name="Primary")
    make_layer(primary, [people["Cy"]])
    # Blair overrides Cy from 09:04 on: level 2 is due at 09:05, so Blair is paged, not Cy (on call now).
    make_override(primary, people["Blair"], start=T0 + timedelta(minutes=4), end=T0 + timedelta(hours=1))
    policy = make_policy(tenant, [{"users": [people["Ana"]], "timeout_minutes": 5},
                                  {"schedules": [primary], "timeout_minutes": 5}])
    incident = open_incident(tenant, policy)
    engine.tick()
    incident.refresh_from_db()
    step = engine.preview(incident)
    assert step.at == T0 + timedelta(minutes=5)
    assert (step.level, step.levels) == (2, 2)
    assert [(user.name, why) for user, why in step.targets] == [("Blair", "on call in Primary")]
    assert not step.skipped and not step.ends and not step.new_round

    # and it is what the engine then does
    clock.move_to(step.at)
    engine.tick()
    incident.refresh_from_db()
    assert incident.assigned_to == people["Blair"] and incident.escalation_level == 2


def test_a_level_reaching_nobody_is_named_as_skipped(tenant, people, clock):
    empty = make_schedule(tenant, name="Empty")
    policy = make_policy(tenant, [{"users": [people["Ana"]], "timeout_minutes": 5},
                                  {"schedules": [empty], "timeout_minutes": 5},
                                  {"users": [people["Cy"]], "timeout_minutes": 5}])
    incident = open_incident(tenant, policy)
    engine.tick()
    incident.refresh_from_db()
    step = engine.preview(incident)
    assert [level for level, _ in step.skipped] == [2]
    assert step.level == 3 and [u.name for u, _ in step.targets] == ["Cy"]


def test_the_end_of_a_round_repeats_and_the_end_of_the_policy(tenant, people, clock):
    policy = make_policy(tenant, [{"users": [people["Ana"]], "timeout_minutes": 5}], repeat_count=1)
    incident = open_incident(tenant, policy)
    engine.tick()
    incident.refresh_from_db()
    step = engine.preview(incident)
    assert step.new_round and step.level == 1 and step.round == 1 and step.repeats_left == 0

    clock.move_to(step.at)
    engine.tick()
    incident.refresh_from_db()
    step = engine.preview(incident)
    assert step.level == 0 and "nobody accepted" in step.ends


def test_nothing_is_previewed_for_an_accepted_incident(tenant, people, clock):
    from alerts import services as alert_services

    policy = make_policy(tenant, [{"users": [people["Ana"]], "timeout_minutes": 5}])
    incident = open_incident(tenant, policy)
    engine.tick()
    incident.refresh_from_db()
    alert_services.accept(incident, by=people["Ana"], via="dashboard")
    incident.refresh_from_db()
    assert engine.preview(incident) is None


def test_the_incident_page_panel_says_who_is_paged_next(tenant, admin, people, clock):
    primary = make_schedule(tenant, name="Primary", tz="Europe/Berlin")
    make_layer(primary, [people["Blair"]])
    policy = make_policy(tenant, [{"users": [people["Ana"]], "timeout_minutes": 5},
                                  {"schedules": [primary], "timeout_minutes": 5}], repeat_count=2)
    incident = open_incident(tenant, policy)
    engine.tick()
    admin.timezone = "Europe/Berlin"
    admin.save()
    client = Client()
    client.force_login(admin)
    html = client.get(f"/panels/escalation/{incident.pk}").content.decode()
    assert "in 5 min" in html
    assert "At <time" in html and ">10:05 CET</time>, level 2 of 2 pages" in html
    assert "<strong>Blair</strong> (on call in Primary)" in html

    clock.move_to(T0 + timedelta(minutes=5))
    engine.tick()
    html = client.get(f"/panels/escalation/{incident.pk}").content.decode()
    assert "Policy ends, repeats from level 1 (2 more times)" in html and "<strong>Ana</strong>" in html
