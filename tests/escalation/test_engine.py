"""The escalation engine, driven by time-machine and the service functions; each test asserts the
timeline and who was paged."""

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings

from alerts import services as alert_services
from alerts.models import Incident, LogKind
from escalation import engine, services
from notifications.models import Notification
from tests.alerts.factories import alert, make_source
from tests.factories import TeamFactory, UserFactory

from .factories import make_policy

T0 = "2026-03-10 09:00:00Z"


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def people(tenant):
    return [UserFactory(tenant=tenant, name=n) for n in ("Ana", "Ben", "Cy")]


def paged(incident):
    """[(level, round, [names])] from the timeline, in order."""
    return [
        (e.data["level"], e.data["round"], [u["name"] for u in e.data["users"]])
        for e in incident.log_entries.filter(kind=LogKind.ESCALATED).order_by("at", "id")
    ]


def warnings(incident):
    return [e.message for e in incident.log_entries.filter(kind=LogKind.WARNING)]


def open_incident(tenant, policy, **fields):
    source = make_source(tenant, escalation_policy=policy)
    return alert(source, key="k", **fields).incident


def test_two_levels_and_no_answer_page_level_two_exactly_at_the_timeout_and_once(tenant, people, clock):
    ana, ben, _ = people
    policy = make_policy(tenant, [{"users": [ana], "timeout_minutes": 5}, {"users": [ben], "timeout_minutes": 5}])
    incident = open_incident(tenant, policy)
    assert engine.tick() == 1
    incident.refresh_from_db()
    assert paged(incident) == [(1, 0, ["Ana"])]
    assert incident.assigned_to == ana and incident.escalation_level == 1
    assert incident.next_escalation_at == alert_services.clock.now() + timedelta(minutes=5)

    clock.shift(timedelta(minutes=4, seconds=59))
    assert engine.tick() == 0
    assert paged(incident) == [(1, 0, ["Ana"])]

    clock.shift(timedelta(seconds=1))
    assert engine.tick() == 1
    assert engine.tick() == 0
    incident.refresh_from_db()
    assert paged(incident) == [(1, 0, ["Ana"]), (2, 0, ["Ben"])]
    assert incident.assigned_to == ben

    clock.shift(timedelta(minutes=5))
    engine.tick()
    incident.refresh_from_db()
    assert incident.next_escalation_at is None
    assert "Escalation stopped after 1 round" in warnings(incident)[-1]
    clock.shift(timedelta(hours=5))
    assert engine.tick() == 0
    assert len(paged(incident)) == 2


@pytest.mark.parametrize("action", ["accept", "resolve"])
def test_accepting_or_resolving_at_level_one_stops_everything(tenant, people, clock, action):
    ana, ben, _ = people
    policy = make_policy(tenant, [{"users": [ana], "timeout_minutes": 5}, {"users": [ben]}])
    incident = open_incident(tenant, policy)
    engine.tick()
    getattr(alert_services, action)(incident, by=ana, via="sms")
    clock.shift(timedelta(hours=2))
    assert engine.tick() == 0
    incident.refresh_from_db()
    assert paged(incident) == [(1, 0, ["Ana"])] and incident.next_escalation_at is None


def test_repeats_start_again_from_level_one(tenant, people, clock):
    ana, ben, _ = people
    policy = make_policy(tenant, [{"users": [ana], "timeout_minutes": 1}, {"users": [ben], "timeout_minutes": 1}],
                         repeat_count=2)
    incident = open_incident(tenant, policy)
    for _ in range(10):
        engine.tick()
        clock.shift(timedelta(minutes=1))
    assert paged(incident) == [
        (1, 0, ["Ana"]), (2, 0, ["Ben"]), (1, 1, ["Ana"]), (2, 1, ["Ben"]), (1, 2, ["Ana"]), (2, 2, ["Ben"]),
    ]
    assert "after 3 rounds" in warnings(incident)[-1]


def test_round_robin_pages_one_target_per_round(tenant, people, clock):
    ana, ben, cy = people
    policy = make_policy(tenant, [{"users": [ana, ben, cy], "timeout_minutes": 1, "notify_mode": "round_robin"}],
                         repeat_count=3)
    incident = open_incident(tenant, policy)
    for _ in range(6):
        engine.tick()
        clock.shift(timedelta(minutes=1))
    assert paged(incident) == [(1, 0, ["Ana"]), (1, 1, ["Ben"]), (1, 2, ["Cy"]), (1, 3, ["Ana"])]


def test_teams_page_their_active_members(tenant, people, clock):
    ana, ben, cy = people
    cy.is_active = False
    cy.save()
    team = TeamFactory(tenant=tenant, name="DB")
    team.members.set([ben, cy])
    policy = make_policy(tenant, [{"teams": [team], "users": [ana]}])
    incident = open_incident(tenant, policy)
    engine.tick()
    assert paged(incident) == [(1, 0, ["Ana", "Ben"])]


def test_a_level_that_reaches_nobody_escalates_at_once_and_says_so(tenant, people, clock):
    empty_team = TeamFactory(tenant=tenant, name="Nobody home")
    policy = make_policy(tenant, [{"teams": [empty_team], "timeout_minutes": 30}, {"users": [people[1]]}])
    incident = open_incident(tenant, policy)
    engine.tick()
    assert paged(incident) == [(2, 0, ["Ben"])]
    assert "Level 1 reaches nobody" in warnings(incident)[0]


def test_a_policy_that_reaches_nobody_leaves_a_loud_warning(tenant, clock):
    policy = make_policy(tenant, [{"teams": [TeamFactory(tenant=tenant)]}])
    incident = open_incident(tenant, policy)
    engine.tick()
    incident.refresh_from_db()
    assert incident.next_escalation_at is None
    assert "Nobody can be reached" in warnings(incident)[-1]


def test_an_incident_without_a_policy_says_nobody_is_paged(tenant, clock):
    incident = alert(make_source(tenant)).incident
    engine.tick()
    incident.refresh_from_db()
    assert incident.next_escalation_at is None and "No escalation policy" in warnings(incident)[0]


def test_an_events_routing_key_selects_the_policy(tenant, people, clock):
    default = make_policy(tenant, [{"users": [people[0]]}])
    routed = make_policy(tenant, [{"users": [people[2]]}], routing_key="database")
    source = make_source(tenant, escalation_policy=default)
    incident = alert(source, key="k", routing_key="database").incident
    engine.tick()
    incident.refresh_from_db()
    assert paged(incident) == [(1, 0, ["Cy"])] and incident.escalation_policy == routed


def test_escalate_to_next_moves_on_immediately(tenant, people, clock):
    ana, ben, _ = people
    policy = make_policy(tenant, [{"users": [ana], "timeout_minutes": 30}, {"users": [ben], "timeout_minutes": 30}])
    incident = open_incident(tenant, policy)
    engine.tick()
    clock.shift(timedelta(minutes=1))
    alert_services.escalate(incident, by=ana, via="sms")
    assert engine.tick() == 1
    assert paged(incident) == [(1, 0, ["Ana"]), (2, 0, ["Ben"])]


def test_an_accepted_incident_escalated_by_hand_pages_the_next_level(tenant, people, clock):
    ana, ben, _ = people
    policy = make_policy(tenant, [{"users": [ana]}, {"users": [ben]}])
    incident = open_incident(tenant, policy)
    engine.tick()
    alert_services.accept(incident, by=ana)
    alert_services.escalate(incident, by=ana)
    engine.tick()
    assert paged(incident)[-1] == (2, 0, ["Ben"])


def test_editing_a_policy_while_escalating_continues_from_the_current_position(tenant, people, clock):
    ana, ben, cy = people
    policy = make_policy(tenant, [{"users": [ana], "timeout_minutes": 5}, {"users": [ben], "timeout_minutes": 5},
                                  {"users": [cy], "timeout_minutes": 5}])
    incident = open_incident(tenant, policy)
    engine.tick()
    clock.shift(timedelta(minutes=5))
    engine.tick()  # at level 2 (Ben)
    # Levels 2 and 3 removed: level 2 no longer exists, so the incident is past the last level.
    for level in list(policy.levels.order_by("position"))[1:]:
        services.delete_level(level)
    services.update_policy(policy, repeat_count=1)
    clock.shift(timedelta(minutes=5))
    engine.tick()
    assert paged(incident) == [(1, 0, ["Ana"]), (2, 0, ["Ben"]), (1, 1, ["Ana"])]


@override_settings(ILERT_KICK_TASKS=False)
def test_a_lost_task_is_performed_by_the_sweeper(tenant, people, django_capture_on_commit_callbacks, clock):
    policy = make_policy(tenant, [{"users": [people[0]]}])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        incident = open_incident(tenant, policy)
    assert callbacks == []  # no task was published: as if the broker lost it
    assert paged(incident) == []
    assert engine.tick() == 1
    assert paged(incident) == [(1, 0, ["Ana"])]


def test_a_kicked_task_performs_the_step_right_after_commit(tenant, people, django_capture_on_commit_callbacks, clock):
    policy = make_policy(tenant, [{"users": [people[0]]}, {"users": [people[1]]}])
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_incident(tenant, policy)
    assert paged(incident) == [(1, 0, ["Ana"])]  # the eager task ran on commit, no sweeper needed
    assert engine.tick() == 0


def test_a_duplicated_or_late_task_is_a_no_op(tenant, people, clock):
    policy = make_policy(tenant, [{"users": [people[0]], "timeout_minutes": 5}, {"users": [people[1]]}])
    incident = open_incident(tenant, policy)
    assert engine.step_due(incident.pk, 0, 0) is True
    assert engine.step_due(incident.pk, 0, 0) is False  # the same step again
    clock.shift(timedelta(minutes=5))
    assert engine.step_due(incident.pk, 0, 0) is False  # a stale position
    assert engine.step_due(incident.pk, 1, 0) is True
    assert paged(incident) == [(1, 0, ["Ana"]), (2, 0, ["Ben"])]


def test_a_step_that_keeps_failing_is_parked_without_stalling_others(tenant, people, clock, monkeypatch):
    policy = make_policy(tenant, [{"users": [people[0]]}])
    bad = open_incident(tenant, policy)
    good = alert(make_source(tenant, escalation_policy=policy), key="other").incident
    real_step = engine.Planner.step

    def flaky(planner, incident, pages):
        if incident.pk == bad.pk:
            raise RuntimeError("boom")
        return real_step(planner, incident, pages)

    monkeypatch.setattr(engine.Planner, "step", flaky)
    assert engine.tick() == 2
    assert paged(good) == [(1, 0, ["Ana"])]
    for _ in range(engine.MAX_ERRORS):
        clock.shift(engine.RETRY_AFTER_ERROR)
        engine.tick()
    bad.refresh_from_db()
    assert bad.next_escalation_at is None
    assert "parked" in warnings(bad)[-1]


def pages(incident):
    """[(user name, round tag)] of the notification rows the engine asked for, in order."""
    return list(Notification.objects.filter(incident=incident, kind="page").order_by("id")
                .values_list("user__name", "round_tag"))


def test_each_paged_user_gets_notifications_for_their_round(tenant, people, clock):
    ana, ben, _ = people
    policy = make_policy(tenant, [{"users": [ana], "timeout_minutes": 5}, {"users": [ben], "timeout_minutes": 5}],
                         repeat_count=1)
    incident = open_incident(tenant, policy)
    for _ in range(4):
        engine.tick()
        clock.shift(timedelta(minutes=5))
    # Default rules (no rules set): one email each time a user is reached, once per round.
    assert pages(incident) == [("Ana", "r0"), ("Ben", "r0"), ("Ana", "r1"), ("Ben", "r1")]


def test_two_levels_never_page_the_same_user_twice_in_one_round(tenant, people, clock):
    ana, ben, _ = people
    policy = make_policy(tenant, [{"users": [ana], "timeout_minutes": 0}, {"users": [ana, ben], "timeout_minutes": 5}])
    incident = open_incident(tenant, policy)
    engine.tick()
    assert paged(incident) == [(1, 0, ["Ana"]), (2, 0, ["Ana", "Ben"])]
    assert pages(incident) == [("Ana", "r0"), ("Ben", "r0")]


def test_accepting_cancels_the_steps_still_to_come(tenant, people, clock):
    from tests.notifications.factories import make_method, make_rule

    ana = people[0]
    make_rule(ana, make_method(ana, "sms", "+4915112345678"), "HIGH", 0)
    make_rule(ana, make_method(ana, "voice", "+4915112345678"), "HIGH", 5)
    incident = open_incident(tenant, make_policy(tenant, [{"users": [ana]}]))
    engine.tick()
    alert_services.accept(incident, by=ana, via="sms")
    statuses = dict(Notification.objects.filter(incident=incident).values_list("channel", "status"))
    assert statuses["voice"] == "cancelled"


def test_reassigning_by_hand_pages_the_new_assignee(tenant, people, admin, clock):
    policy = make_policy(tenant, [{"users": [people[0]]}])
    incident = open_incident(tenant, policy)
    engine.tick()
    alert_services.assign(incident, people[2], by=admin, via="dashboard")
    incident.refresh_from_db()
    assert incident.assigned_to == people[2]
    assert Incident.objects.get(pk=incident.pk).status == "PENDING"
    entry = incident.log_entries.get(kind=LogKind.ASSIGNED, actor=admin)
    assert pages(incident) == [("Ana", "r0"), ("Cy", f"assign-{entry.pk}")]


def test_a_schedule_pages_whoever_is_on_call_at_that_instant(tenant, people, clock):
    from datetime import datetime

    from tests.schedules.factories import make_layer, make_schedule

    ana, ben, _ = people
    schedule = make_schedule(tenant, name="Primary", tz="Europe/Berlin")
    # Daily rotation Ana, Ben handing over at 09:00 Berlin; T0 is 09:00 UTC = 10:00 Berlin on 2026-03-10.
    make_layer(schedule, [ana, ben], rotation_start=datetime(2026, 3, 9, 9, 0), length_count=1, length_unit="days")
    policy = make_policy(tenant, [{"schedules": [schedule]}])
    incident = open_incident(tenant, policy)
    engine.tick()
    assert paged(incident) == [(1, 0, ["Ben"])]
    assert incident.log_entries.get(kind=LogKind.ESCALATED).data["users"][0]["why"] == "on call in Primary"


def test_an_empty_schedule_at_level_one_escalates_immediately(tenant, people, clock):
    from tests.schedules.factories import make_schedule

    empty = make_schedule(tenant, name="Nights")  # no layers: nobody on call
    policy = make_policy(tenant, [{"schedules": [empty], "timeout_minutes": 30}, {"users": [people[1]]}])
    incident = open_incident(tenant, policy)
    engine.tick()
    assert paged(incident) == [(2, 0, ["Ben"])]
    assert warnings(incident)[0] == "Level 1 reaches nobody (nobody on call in Nights): escalating at once."
    incident.refresh_from_db()
    assert incident.next_escalation_at == alert_services.clock.now() + timedelta(minutes=30)


@pytest.fixture
def published(monkeypatch):
    """Sweeps published to the broker: [(kwargs, options)] (the broker is not what these tests cover,
    so ilert.kick's connection and retry options are left out)."""
    from escalation import tasks

    sent = []

    def apply_async(args=(), kwargs=None, connection=None, retry=None, **options):
        sent.append((kwargs, options))

    monkeypatch.setattr(tasks.sweep, "apply_async", apply_async)
    return sent


def test_a_batch_asks_for_one_sweep_at_its_next_due_time_not_one_task_per_incident(
        tenant, people, clock, published, settings, django_capture_on_commit_callbacks):
    settings.ILERT_KICK_TASKS = False  # the incidents' own kicks are not what this covers
    policy = make_policy(tenant, [{"users": [people[0]], "timeout_minutes": 5}, {"users": [people[1]]}])
    source = make_source(tenant, escalation_policy=policy)
    incidents = [alert(source, key=f"k{n}").incident for n in range(12)]
    settings.ILERT_KICK_TASKS = True
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.tick(batch=5) == 12  # three batches, one instant: one sweep asked for
    due = alert_services.clock.now() + timedelta(minutes=5)
    assert published == [({"helpers": 0, "wake_early": False}, {"eta": due})]
    assert all(paged(incident) == [(1, 0, ["Ana"])] for incident in incidents)

    published.clear()
    clock.shift(timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.tick() == 12  # what that sweep will run: level 2 for all twelve
    assert published == []  # level 2 has the default timeout (30 min): past the wake-up horizon


def test_a_step_due_before_the_next_beat_gets_a_sweep_at_its_due_time(tenant, people, clock, published, settings):
    settings.SWEEP_INTERVAL_SECONDS = 2
    settings.ILERT_KICK_TASKS = False  # nothing kicks the incident's own task: only the sweeper knows it
    policy = make_policy(tenant, [{"users": [people[0]], "timeout_minutes": 5}])
    incident = open_incident(tenant, policy)
    settings.ILERT_KICK_TASKS = True
    due = alert_services.clock.now() + timedelta(seconds=1, milliseconds=500)
    Incident.objects.filter(pk=incident.pk).update(next_escalation_at=due)

    assert engine.tick(wake_early=True) == 0
    assert published == [({"wake_early": False}, {"eta": due})]
    assert paged(incident) == []  # never before its time

    published.clear()
    Incident.objects.filter(pk=incident.pk).update(next_escalation_at=due + timedelta(seconds=1))  # 2.5 s away
    engine.tick(wake_early=True)
    assert published == []  # the next beat comes first


def test_a_storm_brings_helper_sweeps_before_the_first_batch_is_done(tenant, people, clock, published, settings,
                                                                     monkeypatch):
    settings.ILERT_KICK_TASKS = False  # the incidents' own tasks are lost: only sweeps act
    policy = make_policy(tenant, [{"users": [people[0]], "timeout_minutes": 5}])
    source = make_source(tenant, escalation_policy=policy)
    for n in range(5):
        alert(source, key=f"k{n}")
    published_before_batch = []
    real_perform = engine._perform

    def perform(incidents, now):
        published_before_batch.append(len(published))
        return real_perform(incidents, now)

    monkeypatch.setattr(engine, "_perform", perform)
    settings.ILERT_KICK_TASKS = True
    assert engine.tick(batch=3, helpers=2) == 5
    assert published_before_batch[0] == 2  # published before the first batch, not after its commit
    assert published == [({"helpers": 0, "wake_early": False}, {})] * 2

    published.clear()
    settings.ILERT_KICK_TASKS = False
    alert(source, key="late")
    settings.ILERT_KICK_TASKS = True
    assert engine.tick(batch=3, helpers=2) == 1  # a backlog smaller than a batch needs no helpers
    assert published == []


def test_a_batch_costs_the_same_queries_whatever_its_size(tenant, people, clock, settings):
    """The storm path: policies, on-call, rules, reply codes, timeline, notifications and connector
    outbox rows are read and written per batch, never per incident."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from connectors.models import ConnectionInvocation
    from tests.connectors.factories import make_connection

    settings.ILERT_KICK_TASKS = False  # only the sweeper acts
    policy = make_policy(tenant, [{"users": [people[0], people[1]], "timeout_minutes": 5}])
    queries = []
    for size in (3, 12):
        source = make_source(tenant, escalation_policy=policy)
        make_connection(tenant, source=source, events=["escalated", "assigned"])
        for n in range(size):
            alert(source, key=f"k{n}")
        with CaptureQueriesContext(connection) as captured:
            assert engine.tick() == size
        queries.append(len(captured))
        assert ConnectionInvocation.objects.filter(connection__alert_source=source).count() == 2 * size
    assert queries[0] == queries[1], queries
