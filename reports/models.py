"""Facts and daily roll-ups behind the response and noise reports (docs/reports.md, "Roll-ups").

Nothing here is the truth: the other apps' tables are. Every row can be rebuilt from them
(`rebuild_report_rollups`)."""

import uuid

from django.db import models

from ilert.tenancy import TenantOwned, tenant_key


class DirtyIncident(TenantOwned):
    """An incident changed since its fact was computed. Written in the changing transaction; the
    token changes with every change, so a fold that read an older state leaves the row in place."""

    incident = models.OneToOneField("alerts.Incident", on_delete=models.CASCADE, primary_key=True,
                                    related_name="+")
    token = models.UUIDField(default=uuid.uuid4)


class IncidentFact(TenantOwned):
    """One incident's contribution to the reports, as last folded into the roll-ups."""

    tenant = tenant_key(db_index=False)  # fact_tenant_created starts with it
    incident = models.OneToOneField("alerts.Incident", on_delete=models.CASCADE, primary_key=True,
                                    related_name="+")
    created_at = models.DateTimeField()
    source_id = models.BigIntegerField()
    policy_id = models.BigIntegerField(null=True)
    assignee_id = models.BigIntegerField(null=True)
    priority = models.CharField(max_length=4)
    incident_key = models.CharField(max_length=255)
    ack_seconds = models.BigIntegerField(null=True)
    resolve_seconds = models.BigIntegerField(null=True)
    maintenance = models.BooleanField(default=False)
    auto_resolved = models.BooleanField(default=False)
    quick = models.BooleanField(default=False)
    flapping = models.BooleanField(default=False)
    events = models.PositiveIntegerField(default=1)
    acceptor_id = models.BigIntegerField(null=True)  # the person of the first acceptance
    accept_via = models.CharField(max_length=32, blank=True)  # its channel

    class Meta:
        indexes = [models.Index(fields=["tenant", "created_at"], name="fact_tenant_created")]


class ReportZone(TenantOwned):
    """A time zone the tenant's roll-ups are kept in (its own and its users')."""

    zone = models.CharField(max_length=64)
    built_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "zone"], name="report_zone_unique")]


class DailyRollup(TenantOwned):
    """Sums over the incidents created on one local day in one zone, for one dimension value.
    `dim` is all, source, policy, assignee, priority, key, acceptor or via; `value` the id, priority or
    "<source id>:<incident key>" ("" for all and for nobody)."""

    zone = models.CharField(max_length=64)
    # "day", or "month": the same sums over a whole local month (`day` is its first day), so a
    # two-year range reads 24 rows per value instead of 730.
    span = models.CharField(max_length=5, default="day")
    day = models.DateField()
    dim = models.CharField(max_length=10)
    value = models.CharField(max_length=300)
    incidents = models.IntegerField(default=0)
    maintenance = models.IntegerField(default=0)
    acked = models.IntegerField(default=0)
    ack_sum = models.BigIntegerField(default=0)
    ack_hist = models.JSONField(default=dict)
    resolved = models.IntegerField(default=0)
    resolve_sum = models.BigIntegerField(default=0)
    resolve_hist = models.JSONField(default=dict)
    auto_resolved = models.IntegerField(default=0)
    quick = models.IntegerField(default=0)
    noise = models.IntegerField(default=0)
    flapping = models.IntegerField(default=0)
    events = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "zone", "span", "dim", "day", "value"],
                                               name="daily_rollup_unique")]


# --- notifications (docs/reports.md, "Roll-ups: notifications") ------------------------------------


class DirtyNotification(models.Model):
    """A notification inserted, changed in a column the reports read, or deleted since it was folded.
    Written by a database trigger on the outbox table (migration 0002): the outbox has no column
    that says when a row last changed, and its engine changes rows with plain UPDATEs. No foreign
    keys: the mark outlives the notification (a deletion is a change) and its tenant (the sweeper
    drops marks of removed tenants). `version` goes up with every change, so a fold that read an
    older state leaves the mark in place."""

    notification_id = models.BigIntegerField(primary_key=True)
    tenant_id = models.BigIntegerField(db_index=True)
    version = models.BigIntegerField(default=1)

    def __str__(self):
        return f"notification {self.notification_id} (v{self.version})"


class NotificationFact(TenantOwned):
    """One notification's contribution to the delivery and people reports, as last folded."""

    notification_id = models.BigIntegerField(primary_key=True)  # no FK: a deleted one is taken out
    created_at = models.DateTimeField()
    channel = models.CharField(max_length=8)
    provider = models.CharField(max_length=16)
    sent = models.BooleanField(default=False)
    delivered = models.BooleanField(default=False)
    failed = models.BooleanField(default=False)
    retried = models.BooleanField(default=False)
    # A page counted in "pages per user": sent, not bundled into another message.
    user_id = models.BigIntegerField(null=True)
    paged_at = models.DateTimeField(null=True)
    rzone = models.CharField(max_length=64, blank=True)  # the recipient's zone night/weekend were read in
    night = models.BooleanField(default=False)
    weekend = models.BooleanField(default=False)


class NotificationRollup(TenantOwned):
    """Sums over notifications per local day (or month) in one reader zone. `measure` "delivery":
    notifications created that day, per channel and provider (user 0, rzone ""). "pages": pages
    sent that day, per user and channel, with the recipient zone their nights were read in."""

    zone = models.CharField(max_length=64)
    span = models.CharField(max_length=5, default="day")
    day = models.DateField()
    measure = models.CharField(max_length=8)
    user_id = models.BigIntegerField(default=0)
    channel = models.CharField(max_length=8)
    provider = models.CharField(max_length=16, blank=True)
    rzone = models.CharField(max_length=64, blank=True)
    total = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    retried = models.IntegerField(default=0)
    night = models.IntegerField(default=0)
    weekend = models.IntegerField(default=0)
    interruptions = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["tenant", "zone", "measure", "span", "day", "user_id", "channel", "provider", "rzone"],
            name="notification_rollup_unique")]


class OnCallDay(TenantOwned):
    """Microseconds on call per user ({user id: µs}) on one local day of one reader zone, with the
    digest of the schedule inputs they were computed from (reports/oncall.py): a stored day
    whose digest no longer matches is computed again."""

    zone = models.CharField(max_length=64)
    day = models.DateField()
    digest = models.CharField(max_length=40)
    micros = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "zone", "day"], name="on_call_day_unique")]
