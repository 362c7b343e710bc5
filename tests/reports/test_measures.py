"""Each measure against hand-built histories with known answers (docs/reports.md): a DST day in
Europe/Berlin, an incident spanning midnight, a reassignment, an escalation after acceptance, a
maintenance window, auto-resolution, quick resolution and flapping. Live query and roll-ups agree."""

from datetime import UTC, datetime

import pytest

from accounts.models import Team
from alerts import services
from alerts.ingest import EventType, InboundEvent
from reports import queries, rollups
from reports.params import parse
from tests.alerts.factories import make_source
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def at(*args):
    return datetime(*args, tzinfo=UTC)


def open_(source, key, when, **fields):
    event = InboundEvent(EventType.ALERT, summary=f"{key} down", incident_key=key, **fields)
    return services.ingest(source, event, now=when).incident


def event(source, kind, key, when):
    services.ingest(source, InboundEvent(kind, incident_key=key), now=when)


@pytest.fixture
def history(tenant):
    """Berlin: CET (UTC+1) until 2026-03-29 02:00, then CEST (UTC+2)."""
    tenant.timezone = "Europe/Berlin"
    tenant.save()
    ann = UserFactory(tenant=tenant, role="responder", name="Ann", timezone="")
    bob = UserFactory(tenant=tenant, role="responder", name="Bob", timezone="")
    db = make_source(tenant, name="db")
    web = make_source(tenant, name="web")
    # 1. Opens 2026-03-28 23:50 CET, accepted by Ann 5 min later, resolved 00:20 the next day:
    #    counts on the 28th, MTTA 300 s, MTTR 1800 s.
    one = open_(db, "disk", at(2026, 3, 28, 22, 50))
    services.accept(one, by=ann, via="sms", now=at(2026, 3, 28, 22, 55))
    services.resolve(one, by=ann, via="dashboard", now=at(2026, 3, 28, 23, 20))
    # 2. Opens 2026-03-29 00:30 CET (still the 28th in UTC): the 29th. Assigned to Ann, reassigned to
    #    Bob, accepted by Bob by voice after 600 s, then escalated (back to pending) and accepted
    #    again: MTTA stays 600. Still open: no MTTR.
    two = open_(web, "cpu", at(2026, 3, 28, 23, 30))
    services.assign(two, ann, by=ann, now=at(2026, 3, 28, 23, 31))
    services.assign(two, bob, by=ann, now=at(2026, 3, 28, 23, 32))
    services.accept(two, by=bob, via="voice", now=at(2026, 3, 28, 23, 40))
    services.escalate(two, by=bob, now=at(2026, 3, 28, 23, 50))
    services.accept(two, by=bob, via="push", now=at(2026, 3, 29, 0, 30))
    # 3. Opens 2026-03-29 23:30 CEST (21:30 UTC): still the 29th; resolved by the source 2 min later
    #    without acceptance: auto-resolved and quick.
    open_(db, "disk", at(2026, 3, 29, 21, 30))
    event(db, EventType.RESOLVE, "disk", at(2026, 3, 29, 21, 32))
    # 4. Opens 2026-03-30 00:30 CEST (22:30 UTC on the 29th): the 30th. Same key, one hour after
    #    the last resolution: flapping. Resolved by Ann after 10 min without acceptance: neither
    #    auto nor quick.
    four = open_(db, "disk", at(2026, 3, 29, 22, 30))
    services.resolve(four, by=ann, now=at(2026, 3, 29, 22, 40))
    # 5. Same key again 3 h later: not flapping. Resolved by Ann after 4 min unaccepted: quick.
    five = open_(db, "disk", at(2026, 3, 30, 1, 40))
    services.resolve(five, by=ann, now=at(2026, 3, 30, 1, 44))
    # 6. Opened during a maintenance window of web on the 30th: left out, counted as maintenance.
    services.add_maintenance_window(web, start=at(2026, 3, 30, 8), end=at(2026, 3, 30, 10))
    open_(web, "deploy", at(2026, 3, 30, 9))
    return {"ann": ann, "bob": bob, "db": db, "web": web}


def report(name, tenant, user, rollup, **query):
    query = {"from": "2026-03-28", "to": "2026-03-30", **query}
    function, allowed = queries.REPORTS[name]
    p = parse(query, tenant=tenant, user=user, allowed=allowed)
    if rollup:
        rollups.catch_up(tenant)
    return function(p, rollup=rollup)


@pytest.mark.parametrize("rollup", [False, True], ids=["live", "rollups"])
def test_response_counts_each_incident_on_its_local_creation_day_with_first_acceptance(tenant, admin, history, rollup):
    result = report("response", tenant, admin, rollup, group="assignee")
    total = result["total"]
    assert total["incidents"] == 5 and total["maintenance"] == 1 and total["open"] == 1
    assert total["mtta"] == {"count": 2, "mean": 450.0, "median": 300, "p90": 600}
    # MTTR: 1800, 120, 600, 240 → mean 690; nearest rank: median is the 2nd smallest (240), p90 the 4th.
    assert total["mttr"] == {"count": 4, "mean": 690.0, "median": 240, "p90": 1800}
    assert [(d["start"], d["incidents"]) for d in result["trend"]] == [
        ("2026-03-28", 1), ("2026-03-29", 2), ("2026-03-30", 2)]
    by_name = {row["name"]: row for row in result["groups"]}
    assert by_name["Bob"]["incidents"] == 1 and by_name["Bob"]["mtta"]["mean"] == 600.0  # reassigned
    assert by_name["Ann"]["incidents"] == 1  # accepting made her the assignee
    assert by_name["nobody"]["incidents"] == 3  # resolved without acceptance, never assigned


@pytest.mark.parametrize("rollup", [False, True], ids=["live", "rollups"])
def test_noise_finds_auto_resolved_quick_and_flapping_incidents(tenant, admin, history, rollup):
    result = report("noise", tenant, admin, rollup)
    total = result["total"]
    assert (total["auto_resolved"], total["quick"], total["noise"], total["flapping"]) == (1, 2, 2, 1)
    assert total["noise_share"] == 0.4
    assert result["top_keys"][0]["incident_key"] == "disk" and result["top_keys"][0]["incidents"] == 4
    assert {row["name"]: row["incidents"] for row in result["sources"]} == {"db": 4, "web": 1}


@pytest.mark.parametrize("rollup", [False, True], ids=["live", "rollups"])
def test_who_answered_and_through_which_channel(tenant, admin, history, rollup):
    people = {row["name"]: row for row in report("people", tenant, admin, rollup)["users"]}
    assert (people["Ann"]["answered"], people["Ann"]["answer_mean"]) == (1, 300.0)
    assert (people["Bob"]["answered"], people["Bob"]["answer_mean"]) == (1, 600.0)
    replies = report("delivery", tenant, admin, rollup)["replies"]
    assert {r["channel"]: (r["accepted"], r["share"]) for r in replies} == {"sms": (1, 0.5), "voice": (1, 0.5)}


def test_the_day_boundary_is_the_readers_zone(tenant, admin, history):
    result = report("response", tenant, admin, False, tz="UTC")
    assert [(d["start"], d["incidents"]) for d in result["trend"]] == [
        ("2026-03-28", 2), ("2026-03-29", 2), ("2026-03-30", 1)]


def test_the_previous_period_is_the_same_number_of_days_before(tenant, admin, history):
    result = report("response", tenant, admin, False, **{"from": "2026-03-31", "to": "2026-04-02"})
    assert result["range"]["previous_from"] == "2026-03-28" and result["previous"]["incidents"] == 5
    assert result["total"]["incidents"] == 0 and result["total"]["mtta"]["mean"] is None


def test_a_week_trend_starts_on_monday(tenant, admin, history):
    result = report("response", tenant, admin, False, bucket="week")
    assert [(d["start"], d["incidents"]) for d in result["trend"]] == [("2026-03-23", 3), ("2026-03-30", 2)]


def test_a_filter_narrows_the_incidents(tenant, admin, history):
    result = report("response", tenant, admin, False, source=str(history["web"].pk))
    assert result["total"]["incidents"] == 1 and result["total"]["maintenance"] == 1


@pytest.mark.parametrize("group", ["", "source", "policy", "team", "assignee", "priority"])
def test_every_grouping_gives_the_same_numbers_from_rollups_and_live(tenant, admin, history, group):
    """Per-group percentiles too (the roll-ups once summed histograms only for some groupings)."""
    Team.objects.create(tenant=tenant, name="Ops").members.add(history["ann"])
    live = report("response", tenant, admin, False, group=group)
    assert report("response", tenant, admin, True, group=group) == live
    if group:
        assert any(row["mttr"]["median"] is not None for row in live["groups"])
