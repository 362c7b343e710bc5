"""Importing an Opsgenie organisation (tests.importers.opsgenie_org) through the REST API v2 fake."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail

from accounts.models import Team, User
from alerts.models import AlertSource
from escalation.models import EscalationPolicy
from importers import services
from importers.vendors import adapter_for
from notifications.models import ContactMethod
from schedules import selectors
from schedules.models import Schedule

from . import opsgenie_org
from .fakes import FakeVendor

pytestmark = pytest.mark.django_db
KEY = opsgenie_org.KEY


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.ALLOW_PRIVATE_TARGETS = True
    with time_machine.travel(datetime(2026, 10, 20, 12, 0, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def fake():
    with FakeVendor(retry_after="3", throttle_header="X-RateLimit-Reset") as vendor:
        opsgenie_org.serve(vendor)
        yield vendor


def run(tenant, fake, sleeps, **kwargs):
    return services.run(tenant, adapter_for("opsgenie", KEY, fake.url, sleep=sleeps.append), **kwargs)


def at(text):
    return datetime.fromisoformat(text)


def test_a_dry_run_changes_nothing(tenant, admin, fake):
    before = [m.objects.count() for m in (User, Team, Schedule, EscalationPolicy, AlertSource, ContactMethod)]
    report = run(tenant, fake, [], dry_run=True)
    assert [m.objects.count() for m in (User, Team, Schedule, EscalationPolicy, AlertSource, ContactMethod)] == before
    assert not mail.outbox and report.count("create") > 15 and report.count("fail") == 0


def test_the_import_maps_opsgenie_and_on_call_is_the_same(tenant, admin, fake):
    sleeps = []
    report = run(tenant, fake, sleeps, dry_run=False, by=admin)
    assert report.count("fail") == 0, [s.line() for s in report.steps if s.action == "fail"]
    assert {u.email: u.role for u in User.objects.filter(tenant=tenant).exclude(pk=admin.pk)} == {
        "olga@acme.test": "admin", "paul@acme.test": "admin", "quinn@acme.test": "responder",
        "rosa@acme.test": "responder", "sam@acme.test": "stakeholder", "tara@acme.test": "responder"}
    assert all(not u.has_usable_password() for u in User.objects.filter(tenant=tenant).exclude(pk=admin.pk))
    assert {(m.kind, m.address, m.is_verified) for m in ContactMethod.objects.filter(tenant=tenant)} == {
        ("email", "olga@acme.test", True), ("sms", "+4915112345601", False), ("voice", "+4915112345602", False)}
    assert Team.objects.get(tenant=tenant, name="SRE").members.count() == 4

    sre = Schedule.objects.get(tenant=tenant, name="SRE")
    days, nights = sre.layers.order_by("position")
    assert (days.length_unit, days.restrictions) == ("weeks", [{"type": "time_of_day", "start": "08:00", "end": "20:00"}])
    assert nights.restrictions == [{"type": "time_of_day", "start": "20:00", "end": "08:00"}]  # crosses midnight
    web = Schedule.objects.get(tenant=tenant, name="Web business hours").layers.get()
    assert (web.length_count, web.length_unit) == (12, "hours")
    assert web.restrictions == [{"type": "time_of_week", "start_day": "mon", "start": "08:00", "end_day": "fri",
                                 "end": "18:00"}]
    # DST (Sunday 25 October, Berlin): the night handoff stays at 20:00 local, now 19:00 UTC.
    assert selectors.on_call(sre, at("2026-10-25T18:59:00+00:00")).email == "olga@acme.test"  # day rotation
    tonight = selectors.on_call(sre, at("2026-10-25T19:00:00+00:00")).email
    assert tonight in ("rosa@acme.test", "tara@acme.test")
    assert selectors.on_call(sre, at("2026-10-26T06:59:00+00:00")).email == tonight  # 07:59 local, past midnight
    assert selectors.on_call(sre, at("2026-10-30T11:00:00+00:00")).email == "tara@acme.test"  # the override

    policy = EscalationPolicy.objects.get(tenant=tenant, name="SRE escalation")
    levels = list(policy.levels.order_by("position"))
    assert [lvl.timeout_minutes for lvl in levels] == [10, 15, 15] and policy.repeat_count == 3
    assert {u.email for u in levels[1].users.all()} == {"paul@acme.test", "olga@acme.test"}
    assert [t.name for t in levels[2].teams.all()] == ["SRE"]
    prometheus = AlertSource.objects.get(tenant=tenant, name="Prometheus")
    assert prometheus.integration_type == "opsgenie"
    assert AlertSource.objects.get(tenant=tenant, name="Support mail").integration_type == "email"
    assert not AlertSource.objects.filter(name="Jira").exists()
    reasons = " | ".join(f"{n.name}: {n.reason}" for n in report.notes)
    for expected in ("mobile contact", "Jira", "first rule waits 5 minutes", "until the alert is closed",
                     "pages the team's members", "choose the alert source's escalation policy"):
        assert expected in reasons

    assert sorted(report.compared) == ["SRE", "Web business hours"]
    assert report.differences == {"SRE": [], "Web business hours": []}
    assert sleeps == [3.0]  # X-RateLimit-Reset honoured
    assert any("offset=4" in p or q.get("offset") == "4" for p, q, _h in fake.requests if p == "/v2/users")
    assert all(h.get("Authorization") == f"GenieKey {KEY}" for _p, _q, h in fake.requests)


def test_a_second_run_changes_nothing_and_overlapping_rotations_are_reported(tenant, admin):
    with FakeVendor(retry_after="0") as fake:
        org = opsgenie_org.serve(fake)
        first = run(tenant, fake, [], dry_run=False, by=admin)
        again = run(tenant, fake, [], dry_run=False, by=admin)
        assert first.changes > 15 and again.changes == 0
        # Widen the day rotation to all day: it now overlaps the nights, which Opsgenie pages together.
        org["schedules"][0]["rotations"][0].pop("timeRestriction")
        third = run(tenant, fake, [], dry_run=False, by=admin)
    assert [s.action for s in third.steps if s.kind == "schedule"] == ["update", "skip"]
    assert any("rotations overlap" in n.reason for n in third.notes)
    differences = third.differences["SRE"]
    assert differences and all(len(d.theirs) == 2 and len(d.ours) == 1 for d in differences)
