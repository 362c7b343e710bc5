"""Importing a Grafana OnCall organisation (tests.importers.oncall_org) through the public API v1 fake."""

from datetime import UTC, datetime

import pytest
import time_machine

from accounts.models import Team, User
from alerts.models import AlertSource
from escalation.models import EscalationPolicy
from importers import services
from importers.vendors import adapter_for
from schedules import selectors
from schedules.models import Schedule

from . import oncall_org
from .fakes import FakeVendor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.ALLOW_PRIVATE_TARGETS = True
    with time_machine.travel(datetime(2026, 10, 20, 12, 0, tzinfo=UTC), tick=False):
        yield


def run(tenant, fake, sleeps, **kwargs):
    return services.run(tenant, adapter_for("oncall", oncall_org.KEY, fake.url, sleep=sleeps.append), **kwargs)


def at(text):
    return datetime.fromisoformat(text)


def test_the_import_maps_oncall_and_on_call_is_the_same(tenant, admin):
    sleeps = []
    with FakeVendor(retry_after="2") as fake:
        oncall_org.serve(fake)
        plan = run(tenant, fake, sleeps, dry_run=True)
        assert not Schedule.objects.exists() and plan.count("create") > 10
        report = run(tenant, fake, sleeps, dry_run=False, by=admin)
        again = run(tenant, fake, sleeps, dry_run=False, by=admin)
    assert [(s.kind, s.name) for s in report.steps if s.action == "fail"] == [("user", "Ed (service account)")]
    assert {u.email: u.role for u in User.objects.filter(tenant=tenant).exclude(pk=admin.pk)} == {
        "anna@acme.test": "admin", "ben@acme.test": "responder", "cleo@acme.test": "responder",
        "dora@acme.test": "stakeholder"}
    assert set(Team.objects.get(tenant=tenant, name="Apps").members.values_list("email", flat=True)) == {
        "ben@acme.test", "dora@acme.test"}

    infra = Schedule.objects.get(tenant=tenant, name="Infra")
    weekly, nights = infra.layers.order_by("position")
    assert nights.restrictions == [{"type": "time_of_day", "start": "20:00", "end": "08:00"}]
    assert selectors.on_call(infra, at("2026-10-29T09:30:00+00:00")).email == "anna@acme.test"  # the override
    apps = Schedule.objects.get(tenant=tenant, name="Apps").layers.get()
    assert (apps.length_count, apps.length_unit) == (12, "hours")
    assert [u.email for u in apps.ordered_users()] == ["dora@acme.test", "ben@acme.test"]  # from the 2nd user
    legacy = Schedule.objects.get(tenant=tenant, name="Legacy calendar")  # iCal: its shifts, explicitly
    assert legacy.kind == "static" and legacy.shifts.count() == 64  # office days from Tue 20 Oct for 90 days
    assert selectors.on_call(legacy, at("2026-10-23T10:00:00+00:00")).email == "cleo@acme.test"

    chain = EscalationPolicy.objects.get(tenant=tenant, name="Infra chain")
    levels = list(chain.levels.order_by("position"))
    assert [(lvl.timeout_minutes, lvl.notify_mode) for lvl in levels] == [(10, "all"), (15, "all"), (5, "round_robin")]
    assert chain.repeat_count == 5 and [s.name for s in levels[0].schedules.all()] == ["Infra"]
    apps_chain = EscalationPolicy.objects.get(tenant=tenant, name="Apps chain")
    assert [t.name for t in apps_chain.levels.get().teams.all()] == ["Apps"]
    assert AlertSource.objects.get(tenant=tenant, name="Prometheus").integration_type == "alertmanager"
    assert AlertSource.objects.get(tenant=tenant, name="Grafana Alerting").escalation_policy == apps_chain
    reasons = " | ".join(n.reason for n in report.notes)
    for expected in ("an iCal schedule: imported as a static schedule", "trigger_webhook", "no compatible alert source", "does not expose phone",
                     "no email address"):
        assert expected in reasons

    assert report.differences == {"Infra": [], "Apps": [], "Legacy calendar": []}
    assert again.changes == 0 and again.differences == report.differences
    assert sleeps == [2.0]  # one 429, waited out as long as it said
    assert all(h.get("Authorization") == oncall_org.KEY for _p, _q, h in fake.requests)
