"""Importing a PagerDuty organisation (tests.importers.pagerduty_org) through the REST API v2 fake."""

import logging
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from accounts.models import Team, User
from alerts.models import AlertSource
from escalation.models import EscalationPolicy
from importers import services
from importers.models import ImportedObject
from importers.vendors import adapter_for
from notifications.models import ContactMethod
from schedules import selectors
from schedules import services as schedule_services
from schedules.models import Layer, Override, Schedule

from . import pagerduty_org
from .fakes import FakeVendor

pytestmark = pytest.mark.django_db
KEY = "u+pdSecretKey-1234567890"


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.ALLOW_PRIVATE_TARGETS = True  # the fake listens on 127.0.0.1
    with time_machine.travel(datetime(2026, 10, 20, 12, 0, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def fake():
    with FakeVendor() as vendor:
        pagerduty_org.serve(vendor)
        yield vendor


@pytest.fixture
def sleeps():
    return []


def run(tenant, fake, sleeps, **kwargs):
    adapter = adapter_for("pagerduty", KEY, fake.url, sleep=sleeps.append)
    return services.run(tenant, adapter, by=kwargs.pop("by", None), **kwargs)


def counts():
    return [m.objects.count() for m in (User, Team, ContactMethod, Schedule, Layer, Override, EscalationPolicy,
                                         AlertSource, ImportedObject)]


def at(text):
    return datetime.fromisoformat(text)


def test_a_dry_run_plans_everything_and_changes_nothing(tenant, admin, fake, sleeps):
    before = counts()
    report = run(tenant, fake, sleeps, dry_run=True)
    assert counts() == before and not mail.outbox
    actions = {(s.kind, s.name): s.action for s in report.steps}
    assert actions[("user", "Alice Adler")] == "create"
    assert actions[("user", "Old Pager Account")] == "fail"
    assert actions[("schedule", "Platform primary")] == "create"
    assert actions[("policy", "Platform")] == "create"
    assert actions[("policy", "Legacy pager")] == "fail"  # its only target has no email
    assert actions[("integration", "Checkout API: Alertmanager")] == "create"
    reasons = " | ".join(n.reason for n in report.notes)
    assert "no email address" in reasons and "push_notification_contact_method" in reasons
    assert "generic_events_api_inbound_integration" in reasons and "round robin" in reasons
    assert report.compared == []  # nothing imported yet, nothing to compare


def test_the_import_maps_the_organisation_and_on_call_is_the_same_as_pagerduty(tenant, admin, fake, sleeps):
    report = run(tenant, fake, sleeps, dry_run=False, by=admin)
    assert report.count("fail") == 2  # the user without an email, the policy paging only them
    alice = User.objects.get(email="alice@acme.test")
    assert alice.tenant == tenant and alice.role == "admin" and not alice.has_usable_password()
    assert User.objects.get(email="gus@acme.test").role == "stakeholder"
    assert User.objects.get(email="dan@acme.test").timezone == "America/New_York"
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        f"{n}@acme.test" for n in ("alice", "bob", "carla", "dan", "eve", "fay", "gus"))
    methods = {(m.kind, m.address): m.is_verified for m in ContactMethod.objects.filter(user__tenant=tenant)}
    assert methods == {("email", "alice@acme.test"): True, ("voice", "+4915112345671"): False,
                       ("sms", "+4915112345671"): False, ("email", "bob.private@acme.test"): False,
                       ("sms", "+4915112345672"): False, ("voice", "+12125550104"): False}
    assert set(Team.objects.get(tenant=tenant, name="Platform").members.values_list("email", flat=True)) == {
        "alice@acme.test", "bob@acme.test", "carla@acme.test"}

    primary = Schedule.objects.get(tenant=tenant, name="Platform primary")
    assert primary.timezone == "Europe/Berlin" and primary.team.name == "Platform"
    nights, weekly = primary.layers.order_by("-position")
    assert (nights.name, nights.length_count, nights.length_unit) == ("Nights", 1, "days")
    assert nights.restrictions == [{"type": "time_of_day", "start": "18:00", "end": "08:00"}]
    assert [u.email for u in weekly.ordered_users()] == ["alice@acme.test", "bob@acme.test", "carla@acme.test"]
    assert Layer.objects.filter(schedule__name="Database").count() == 1  # the ended layer is left out

    # DST: Monday 26 October 2026 is the first day of CET; the weekly handoff stays at 09:00 local.
    assert selectors.on_call(primary, at("2026-10-26T07:59:00+00:00")).email == "alice@acme.test"
    assert selectors.on_call(primary, at("2026-10-26T08:00:00+00:00")).email == "bob@acme.test"
    # The night restriction crosses midnight: 23:30 and 07:30 local are nights, 08:00 is not.
    assert selectors.on_call(primary, at("2026-10-27T22:30:00+00:00")).email in ("bob@acme.test", "carla@acme.test")
    assert selectors.on_call(primary, at("2026-10-28T06:30:00+00:00")).email in ("bob@acme.test", "carla@acme.test")
    assert selectors.on_call(primary, at("2026-10-28T10:30:00+00:00")).email == "alice@acme.test"  # override

    platform = EscalationPolicy.objects.get(tenant=tenant, name="Platform")
    first, second = platform.levels.order_by("position")
    assert platform.repeat_count == 2
    assert (first.timeout_minutes, list(first.schedules.all())) == (15, [primary])
    assert (second.timeout_minutes, second.notify_mode) == (30, "round_robin")
    assert not EscalationPolicy.objects.filter(name="Legacy pager").exists()

    source = AlertSource.objects.get(tenant=tenant, name="Checkout API: Alertmanager")
    assert source.integration_type == "pagerduty" and source.escalation_policy.name == "Payments"
    paste = next(s.paste for s in report.steps if s.name == "Checkout API: Alertmanager")
    assert paste["url"].endswith("/integrations/pagerduty/v2/enqueue") and paste["key"] == source.integration_key
    assert AlertSource.objects.get(name="Checkout API: Mail").integration_type == "email"

    # The proof: PagerDuty's own final schedule and ours agree for 30 days, across both DST changes.
    assert sorted(report.compared) == ["Database", "Payments follow the sun", "Platform primary"]
    assert report.differences == {name: [] for name in report.compared}
    # Pages were followed, and the 429 was waited out for as long as it said.
    assert any(q.get("offset") == "6" for p, q, _h in fake.requests if p == "/users")
    assert sleeps == [7.0] and report.retries == 1


def test_a_second_run_changes_nothing(tenant, admin, fake, sleeps):
    run(tenant, fake, sleeps, dry_run=False, by=admin)
    before, invitations = counts(), len(mail.outbox)
    again = run(tenant, fake, sleeps, dry_run=False, by=admin)
    assert again.changes == 0 and counts() == before and len(mail.outbox) == invitations
    assert {s.action for s in again.steps} == {"skip", "fail"}
    assert again.differences == {name: [] for name in again.compared} and len(again.compared) == 3


def test_a_change_at_pagerduty_updates_the_imported_schedule(tenant, admin, sleeps):
    with FakeVendor() as fake:
        org = pagerduty_org.serve(fake)
        run(tenant, fake, sleeps, dry_run=False, by=admin)
        org["schedules"][2]["schedule_layers"][0]["users"].reverse()
        report = run(tenant, fake, sleeps, dry_run=False, by=admin)
    assert [s.action for s in report.steps if s.kind == "schedule"] == ["skip", "skip", "update"]
    eights = Layer.objects.get(schedule__name="Database")
    assert [u.email for u in eights.ordered_users()] == ["gus@acme.test", "dan@acme.test", "alice@acme.test"]
    assert report.differences["Database"] == []


def test_the_check_finds_a_planted_difference(tenant, admin, fake, sleeps):
    run(tenant, fake, sleeps, dry_run=False, by=admin)
    database = Schedule.objects.get(tenant=tenant, name="Database")
    gus = User.objects.get(email="gus@acme.test")
    schedule_services.create_override(database, user=gus, start=at("2026-11-02T01:00:00+00:00"),
                                      end=at("2026-11-02T03:00:00+00:00"))
    report = run(tenant, fake, sleeps, dry_run=True)
    (difference,) = report.differences["Database"]
    assert (difference.start, difference.end) == (at("2026-11-02T01:00:00+00:00"), at("2026-11-02T03:00:00+00:00"))
    assert difference.ours == ("gus@acme.test",) and difference.theirs != difference.ours
    assert report.differences["Platform primary"] == []


def test_the_command_prints_the_plan_and_never_the_vendor_key(tenant, admin, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeVendor(retry_after="0") as fake:
        pagerduty_org.serve(fake)
        from io import StringIO

        out = StringIO()
        call_command("import_from", "pagerduty", "--tenant", tenant.slug, "--api-key", KEY,
                     "--base-url", fake.url, "--only", "users,teams", "--dry-run", stdout=out)
        assert all(h.get("Authorization") == f"Token token={KEY}" for _p, _q, h in fake.requests)
        call_command("import_from", "pagerduty", "--tenant", tenant.slug, "--api-key", KEY,
                     "--base-url", fake.url, stdout=out)
    text = out.getvalue()
    assert "Plan (dry run: nothing was changed)" in text and "create user" in text
    assert "Point your senders here:" in text and "/integrations/pagerduty/v2/enqueue" in text
    assert "the same as pagerduty for the next 30 days" in text
    assert KEY not in text and KEY not in caplog.text
    assert User.objects.filter(tenant=tenant).count() == 8  # the admin and 7 imported


def test_a_refused_key_is_a_clear_error_without_the_key(tenant):
    with FakeVendor() as fake:
        from io import StringIO

        from django.core.management.base import CommandError
        with pytest.raises(CommandError) as error:
            call_command("import_from", "pagerduty", "--tenant", tenant.slug, "--api-key", KEY,
                         "--base-url", fake.url + "/nothing", stdout=StringIO())
    assert "404" in str(error.value) and KEY not in str(error.value)


def test_each_object_is_its_own_transaction(tenant, admin, sleeps):
    """A schedule whose layer the schedules service refuses (over 100 users) leaves nothing behind,
    and the other objects still import."""
    with FakeVendor() as fake:
        org = pagerduty_org.serve(fake)
        layer = org["schedules"][2]["schedule_layers"][0]
        layer["users"] = layer["users"] * 34  # 102 users in the rotation
        report = run(tenant, fake, sleeps, dry_run=False, by=admin)
    (failed,) = [s for s in report.steps if s.kind == "schedule" and s.action == "fail"]
    assert failed.name == "Database" and "100 users" in failed.reason
    assert not Schedule.objects.filter(name="Database").exists() and not Layer.objects.filter(name="Eights").exists()
    assert Schedule.objects.filter(tenant=tenant).count() == 2
    # The policy that pages the missing schedule is refused with the reason, not made without it.
    assert any(s.name == "Payments" and s.action == "fail" and "schedule PS3" in s.reason for s in report.steps)


def test_a_layer_that_starts_later_starts_at_its_first_handoff(tenant, admin, sleeps):
    with FakeVendor() as fake:
        org = pagerduty_org.serve(fake)
        eights = org["schedules"][2]["schedule_layers"][0]
        eights["start"] = "2026-10-25T08:00:00Z"  # on a handoff: the 46th turn of 8 hours
        report = run(tenant, fake, sleeps, dry_run=False, by=admin, only=["users", "schedules"])
        layer = Layer.objects.get(name="Eights")
        assert (layer.start_date.isoformat(), layer.handoff_time.isoformat()) == ("2026-10-25", "08:00:00")
        assert [u.email for u in layer.ordered_users()] == ["dan@acme.test", "gus@acme.test", "alice@acme.test"]
        assert report.differences["Database"] == []

        eights["start"] = "2026-10-25T09:00:00Z"  # between two handoffs
        later = run(tenant, fake, sleeps, dry_run=False, by=admin, only=["users", "schedules"])
    assert any("between two handoffs" in n.reason for n in later.notes)
    (gap,) = later.differences["Database"]
    assert (gap.start, gap.end, gap.ours) == (at("2026-10-25T09:00:00+00:00"), at("2026-10-25T16:00:00+00:00"), ())
