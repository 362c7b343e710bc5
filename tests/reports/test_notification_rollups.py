"""The outbox roll-ups (pages and delivery): kept incrementally from the trigger's marks, they equal
the live query and a rebuild after random histories (hypothesis), including changes the engine
makes with plain UPDATEs, deletions, bundling and a recipient changing zone; tenancy."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from accounts.models import Tenant
from notifications.models import Notification
from reports import notification_rollups, queries, rollups, tasks
from reports.models import DirtyNotification, NotificationFact, NotificationRollup
from reports.params import parse
from tests.factories import TenantFactory, UserFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 27, 20, tzinfo=UTC)  # around Berlin's DST change on the 29th
QUERY = {"from": "2026-03-01", "to": "2026-05-30"}
STATUSES = ["pending", "sending", "sent", "delivered", "failed", "cancelled", "uncertain", "parked"]
CHANNELS = ["sms", "voice", "push", "email"]
NUMBERS = count()


def notify(tenant, user, when, *, kind="page", channel="sms", status="delivered", sent=True, attempts=1, **fields):
    return Notification.objects.create(
        tenant=tenant, user=user, kind=kind, channel=channel, address="x", dedup_key=f"n{next(NUMBERS)}",
        due_at=when, created_at=when, sent_at=when + timedelta(seconds=5) if sent else None, status=status,
        attempts=attempts, provider={"sms": "twilio", "voice": "twilio", "push": "fcm"}.get(channel, "email"),
        **fields)


def rows(tenant):
    return sorted(NotificationRollup.objects.filter(tenant=tenant).values_list(
        "zone", "measure", "span", "day", "user_id", "channel", "provider", "rzone", "total", "sent", "delivered",
        "failed", "retried", "night", "weekend", "interruptions"))


def assert_reports_equal_live(tenant, reader, zones):
    for zone in zones:
        p = parse({**QUERY, "tz": zone}, tenant=tenant, user=reader, allowed=queries.PEOPLE_FILTERS)
        for name in ("people", "delivery"):
            function = queries.REPORTS[name][0]
            assert function(p, rollup=True) == function(p, rollup=False), (name, zone)


step = st.tuples(
    st.sampled_from(["create", "create", "update", "bundle", "delete", "zone", "fold"]),
    st.integers(0, 2),  # which user / which zone
    st.integers(0, 50),  # which notification (modulo), channel, status
    st.integers(1, 600),  # minutes since the previous step
    st.booleans(),
)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
@given(steps=st.lists(step, min_size=1, max_size=30))
def test_incremental_rollups_equal_the_live_query_and_a_rebuild(tenant, steps):
    tenant.timezone = "Europe/Berlin"
    tenant.save()
    Notification.objects.filter(tenant=tenant).delete()  # hypothesis reuses the test's database
    rollups.rebuild(tenant)
    users = [UserFactory(tenant=tenant, role="responder", timezone=tz) for tz in ("", "America/New_York", "")]
    zones = ["Europe/Berlin", "America/New_York"]
    now = START
    for kind, who, which, minutes, flag in steps:
        now += timedelta(minutes=minutes)
        existing = list(Notification.objects.filter(tenant=tenant).order_by("pk"))
        target = existing[which % len(existing)] if existing else None
        if kind == "create" or target is None:
            notify(tenant, users[who], now, kind="page" if flag or which % 3 else "notice",
                   channel=CHANNELS[which % 4], status=STATUSES[which % 8], sent=which % 8 in (2, 3, 6),
                   attempts=1 + which % 2)
        elif kind == "update":  # what the engine does: a plain UPDATE
            Notification.objects.filter(pk=target.pk).update(
                status=STATUSES[minutes % 8], attempts=target.attempts + flag,
                sent_at=now if minutes % 8 in (2, 3, 6) else target.sent_at, provider="dev" if flag else target.provider)
        elif kind == "bundle":
            leader = existing[minutes % len(existing)]
            Notification.objects.filter(pk=target.pk).update(bundle=None if leader.pk == target.pk or flag else leader)
        elif kind == "delete":
            target.delete()
        elif kind == "zone":  # the recipient's nights are read in their new zone from now on
            users[who].timezone = ["", "Asia/Tokyo", "America/New_York"][which % 3]
            users[who].save(update_fields=["timezone"])
        else:
            rollups.catch_up_notifications(tenant)
    rollups.catch_up_notifications(tenant)
    zones = sorted(set(zones) | {u.timezone for u in users if u.timezone})
    assert_reports_equal_live(tenant, users[0], zones)  # stale zones are read live and marked to refold
    rollups.catch_up_notifications(tenant)
    assert not DirtyNotification.objects.filter(tenant_id=tenant.pk).exists()
    assert_reports_equal_live(tenant, users[0], zones)
    incremental = rows(tenant)
    rollups.rebuild(tenant)
    assert rows(tenant) == incremental


def test_the_trigger_marks_watched_changes_inserts_and_deletions_only(tenant, responder):
    n = notify(tenant, responder, START)
    assert DirtyNotification.objects.filter(notification_id=n.pk, tenant_id=tenant.pk).exists()
    rollups.catch_up_notifications(tenant)
    assert not DirtyNotification.objects.exists()
    Notification.objects.filter(pk=n.pk).update(error="x", lease=7, deadline=START)  # not read by reports
    assert not DirtyNotification.objects.exists()
    Notification.objects.filter(pk=n.pk).update(status="failed")
    version = DirtyNotification.objects.get(notification_id=n.pk).version
    Notification.objects.filter(pk=n.pk).update(attempts=2)  # a second change before the fold
    assert DirtyNotification.objects.get(notification_id=n.pk).version == version + 1
    rollups.catch_up_notifications(tenant)
    assert NotificationFact.objects.get(pk=n.pk).failed
    n.delete()
    rollups.catch_up_notifications(tenant)
    assert not NotificationFact.objects.exists() and not NotificationRollup.objects.exists()


TRANSITIONS = [  # (what the row holds, what an UPDATE sets)
    ({"status": "pending", "sent": False, "attempts": 0}, {"status": "sending"}),  # a claim
    ({"status": "sending", "sent": False, "attempts": 0}, {"attempts": 1}),  # the take before the call
    ({"status": "sending", "sent": False, "attempts": 1}, {"attempts": 2}),  # a retry
    ({"status": "sending", "sent": False, "attempts": 1}, {"status": "pending"}),  # released for a retry
    ({"status": "sending", "sent": False, "attempts": 1}, {"status": "sent", "sent_at": START}),  # sent
    ({"status": "sent", "attempts": 1}, {"status": "delivered"}),
    ({"status": "sending", "sent": False, "attempts": 1}, {"status": "failed"}),
    ({"status": "sending", "sent": False, "attempts": 1}, {"status": "uncertain"}),
    ({"status": "failed", "sent": False, "attempts": 3}, {"status": "parked"}),
    ({"status": "pending", "sent": False, "attempts": 0}, {"status": "cancelled"}),
    ({"status": "sent", "attempts": 1}, {"provider": "other"}),
]


@pytest.mark.parametrize(("held", "change"), TRANSITIONS)
def test_the_trigger_marks_a_change_exactly_when_the_report_fact_changes(tenant, responder, held, change):
    """The trigger watches what `compute` reads (reports/0006): the claim and the take before the
    provider call change nothing a report shows and mark nothing; everything else marks."""
    n = notify(tenant, responder, START, **held)
    rollups.catch_up_notifications(tenant)
    zones, row = notification_rollups.recipient_zones(tenant), Notification.objects.filter(pk=n.pk)
    [before] = notification_rollups.compute(row, zones)
    Notification.objects.filter(pk=n.pk).update(**change)
    marked = DirtyNotification.objects.filter(notification_id=n.pk).exists()
    [after] = notification_rollups.compute(row, zones)  # what a fold would compute from the row now
    changed = [f for f in notification_rollups.FACT_FIELDS if getattr(before, f) != getattr(after, f)]
    assert marked == bool(changed), f"marked: {marked}, fact fields changed: {changed}"


def test_a_change_during_a_fold_keeps_its_mark(tenant, responder, monkeypatch):
    """The fold deletes only the marks at the version it read: a change committed while it
    computes bumps the version, so the next fold takes the change in."""
    n = notify(tenant, responder, START, status="sent")
    rollups.catch_up_notifications(tenant)
    Notification.objects.filter(pk=n.pk).update(status="delivered")
    read_zones = notification_rollups.recipient_zones

    def zones_then_a_receipt(t):  # the provider's failure receipt lands mid-fold
        Notification.objects.filter(pk=n.pk).update(status="failed")
        return read_zones(t)

    monkeypatch.setattr(notification_rollups, "recipient_zones", zones_then_a_receipt)
    rollups.fold_notifications(tenant)
    assert DirtyNotification.objects.filter(notification_id=n.pk).exists()
    monkeypatch.setattr(notification_rollups, "recipient_zones", read_zones)
    rollups.catch_up_notifications(tenant)
    assert NotificationFact.objects.get(pk=n.pk).failed
    assert_reports_equal_live(tenant, responder, ["Europe/Berlin"])


def test_tenancy_and_a_removed_tenant(tenant, responder):
    other = TenantFactory(timezone="Europe/Berlin")
    stranger = UserFactory(tenant=other, role="responder")
    for i in range(3):
        notify(tenant, responder, START + timedelta(hours=i))
        notify(other, stranger, START + timedelta(hours=i), channel="voice", status="failed")
    tasks.sweep()  # the beat's task folds every tenant
    assert not DirtyNotification.objects.exists()
    p = parse({**QUERY, "tz": "Europe/Berlin"}, tenant=tenant, user=responder, allowed=())
    delivery = queries.REPORTS["delivery"][0](p, rollup=True)
    assert delivery["channels"] == [{"channel": "sms", "provider": "twilio", "total": 3, "sent": 3, "delivered": 3,
                                     "failed": 0, "retried": 0}]
    assert delivery == queries.REPORTS["delivery"][0](p, rollup=False)
    people = queries.REPORTS["people"][0](p, rollup=True)
    assert [u["id"] for u in people["users"]] == [responder.pk]
    assert not NotificationRollup.objects.filter(tenant=tenant, user_id=stranger.pk).exists()
    Tenant.objects.filter(pk=other.pk).delete()  # its notifications go, their marks stay behind
    assert DirtyNotification.objects.filter(tenant_id=other.pk).exists()
    tasks.sweep()
    assert not DirtyNotification.objects.exists()
    assert NotificationRollup.objects.filter(tenant=tenant).exists()


def test_long_ranges_read_the_rollups_and_the_command_rebuilds_them(tenant, responder):
    tenant.timezone = "Europe/Berlin"
    tenant.save()
    for i in range(4):
        notify(tenant, responder, START + timedelta(days=10 * i), channel=CHANNELS[i])
    call_command("rebuild_report_rollups", "--tenant", tenant.slug)
    assert NotificationFact.objects.filter(tenant=tenant).count() == 4
    assert not DirtyNotification.objects.exists()
    rebuilt = rows(tenant)
    NotificationRollup.objects.filter(tenant=tenant).update(total=99)  # what the report reads is the roll-up
    p = parse({**QUERY, "tz": "Europe/Berlin"}, tenant=tenant, user=responder, allowed=())
    assert p.days > queries.ROLLUP_AFTER_DAYS
    assert {row["total"] for row in queries.REPORTS["delivery"][0](p)["channels"]} == {99}
    call_command("rebuild_report_rollups")
    assert rows(tenant) == rebuilt


def test_a_new_reader_zone_is_built_with_the_outbox_rollups(tenant, responder):
    tenant.timezone = "Europe/Berlin"
    tenant.save()
    notify(tenant, responder, START)
    rollups.catch_up_notifications(tenant)
    UserFactory(tenant=tenant, role="responder", timezone="Asia/Tokyo")
    rollups.catch_up_notifications(tenant)  # takes the lock: builds the new zone from the facts
    assert NotificationRollup.objects.filter(tenant=tenant, zone="Asia/Tokyo").exists()
    assert_reports_equal_live(tenant, responder, ["Asia/Tokyo", "Europe/Berlin"])
