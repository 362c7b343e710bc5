"""The delivery-attempts migration, run forwards over rows written with the old schema."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ilert import clock
from notifications import engine
from notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def test_rows_sending_at_the_upgrade_are_looked_up_never_assumed_unsent(tenant, responder):
    """A row `sending` when attempts did not exist may be in a provider call: the sweeper must ask
    the provider (here the dev outbox), not queue it again as if no call had started."""
    old = migrate(("notifications", "0004_reply_code_floor"))
    OldNotification = old.get_model("notifications", "Notification")
    claimed = clock.now() - timedelta(minutes=5)
    row = OldNotification.objects.create(
        tenant_id=tenant.pk, user_id=responder.pk, kind="notice", channel="sms", address="+4915112345678",
        dedup_key="upgrade-1", token="upgradetoken1", status="sending", due_at=claimed, claimed_at=claimed,
        first_claimed_at=claimed, deadline=claimed + timedelta(seconds=60), lease=3, attempts=1, body="hello",
        sent_text="hello")
    untouched = OldNotification.objects.create(
        tenant_id=tenant.pk, user_id=responder.pk, kind="notice", channel="sms", address="+4915112345678",
        dedup_key="upgrade-2", token="upgradetoken2", status="sent", due_at=claimed, body="hi")
    try:
        migrate(("notifications", "0005_delivery_attempts"))
        sending = Notification.objects.get(pk=row.pk)
        assert sending.outcome_unknown and not Notification.objects.get(pk=untouched.pk).outcome_unknown
        (attempt,) = sending.delivery_attempts.all()
        assert (attempt.kind, attempt.result, attempt.lease, attempt.started_at) == ("send", "calling", 3, claimed)
        assert not Notification.objects.get(pk=untouched.pk).delivery_attempts.exists()
        migrate_to_latest()  # the engine of today runs on today's schema (later migrations add columns)
        engine.reconcile()
        sending.refresh_from_db()
        assert sending.lookups == 1 and "has no such message" in sending.error
        assert [a.kind for a in sending.delivery_attempts.order_by("id")] == ["send"]  # the dev outbox: no call
    finally:
        migrate_to_latest()


def migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
