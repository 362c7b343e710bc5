"""People: pages by channel, interruptions in each recipient's own zone (across Berlin's DST change),
bundled and unsent pages left out, time on call from schedules with an override, overlaps once."""

from datetime import UTC, datetime

import pytest

from notifications.models import Notification
from reports import queries
from reports.params import parse
from tests.factories import UserFactory
from tests.schedules.factories import make_layer, make_override, make_schedule

pytestmark = pytest.mark.django_db


def at(*args):
    return datetime(*args, tzinfo=UTC)


def page(user, sent_at, channel="sms", **fields):
    n = Notification.objects.count()
    return Notification.objects.create(tenant=user.tenant, user=user, channel=channel, address="x", kind="page",
                                       dedup_key=f"p{n}", due_at=sent_at, sent_at=sent_at, status="delivered",
                                       created_at=sent_at, **fields)


@pytest.fixture
def people(tenant):
    tenant.timezone = "Europe/Berlin"
    tenant.save()
    ann = UserFactory(tenant=tenant, role="responder", name="Ann", timezone="")  # the organisation's zone
    bob = UserFactory(tenant=tenant, role="responder", name="Bob", timezone="America/New_York")
    page(ann, at(2026, 3, 27, 5, 30))  # Fri 06:30 CET: night
    page(ann, at(2026, 3, 30, 5, 30), "voice")  # Mon 07:30 CEST (after the change): not night
    page(ann, at(2026, 3, 28, 12))  # Sat 13:00: weekend
    leader = page(ann, at(2026, 3, 30, 12))  # Mon 14:00: neither
    page(ann, at(2026, 3, 30, 12), bundle=leader)  # rode on the leader's message: not counted again
    Notification.objects.create(tenant=tenant, user=ann, channel="sms", address="x", kind="page", dedup_key="f",
                                due_at=at(2026, 3, 29), status="failed", created_at=at(2026, 3, 29))  # never sent
    page(bob, at(2026, 3, 30, 3))  # Sun 23:00 EDT: night and weekend, one interruption
    page(bob, at(2026, 3, 31, 12))  # after the range
    primary, secondary = make_schedule(tenant), make_schedule(tenant)
    make_layer(primary, [ann])
    make_layer(secondary, [ann])
    make_override(primary, bob, start=at(2026, 3, 28, 10), end=at(2026, 3, 28, 16))
    return ann, bob


def test_pages_interruptions_and_time_on_call(tenant, admin, people):
    p = parse({"from": "2026-03-27", "to": "2026-03-30"}, tenant=tenant, user=admin, allowed=("user",))
    rows = {row["name"]: row for row in queries.REPORTS["people"][0](p)["users"]}
    ann, bob = rows["Ann"], rows["Bob"]
    assert (ann["pages"], ann["pages_by_channel"]) == (4, {"sms": 3, "voice": 1})
    assert (ann["night"], ann["weekend"], ann["interruptions"]) == (1, 1, 2)
    assert (bob["pages"], bob["night"], bob["weekend"], bob["interruptions"]) == (1, 1, 1, 1)
    # 27th 00:00 CET to 31st 00:00 CEST is 95 hours (the 29th has 23). Bob's 6-hour override takes
    # the primary schedule, but Ann is on call in the secondary meanwhile: her hours count once.
    assert (ann["on_call_hours"], bob["on_call_hours"]) == (95.0, 6.0)


def test_one_user(tenant, admin, people):
    ann, _ = people
    p = parse({"from": "2026-03-27", "to": "2026-03-30", "user": str(ann.pk)}, tenant=tenant, user=admin,
              allowed=("user",))
    assert [row["name"] for row in queries.REPORTS["people"][0](p)["users"]] == ["Ann"]


def test_delivery_counts_per_channel_and_provider(tenant, admin, people):
    p = parse({"from": "2026-03-27", "to": "2026-03-30"}, tenant=tenant, user=admin, allowed=())
    channels = {(r["channel"], r["provider"]): r for r in queries.REPORTS["delivery"][0](p)["channels"]}
    sms = channels[("sms", "")]
    assert (sms["total"], sms["sent"], sms["delivered"], sms["failed"]) == (6, 5, 5, 1)
    assert channels[("voice", "")]["total"] == 1
    assert sum(r["total"] for r in channels.values()) == 7
