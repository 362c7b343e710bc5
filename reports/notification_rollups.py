"""Facts and daily roll-ups of the notification outbox, behind the delivery counts and the pages of
the people report (docs/reports.md, "Roll-ups: notifications").

The outbox has no "changed at" column and its engine changes rows with plain UPDATEs, so a
database trigger (migration 0002) marks every inserted, changed or deleted notification dirty
(`DirtyNotification`). The sweeper folds dirty notifications like dirty incidents: the old fact
out of the roll-ups, the new one in, under the tenant's roll-up lock (`rollups._lock`)."""

import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass, fields

from django.db import connection

from accounts.models import Tenant, User
from notifications.models import Notification

from .models import DirtyNotification, NotificationFact, NotificationRollup

NIGHT_FROM, NIGHT_UNTIL = 22, 7
FAILED = {Notification.Status.FAILED, Notification.Status.PARKED, Notification.Status.UNCERTAIN}
COUNTERS = ("total", "sent", "delivered", "failed", "retried", "night", "weekend", "interruptions")
# The outbox columns a fact is computed from. The trigger (migrations 0002, 0006) marks a row when one
# of them changes as `compute` reads it: status only as delivered / FAILED, attempts only as > 1.
# Change what `compute` reads, change the trigger (tests/reports: the trigger marks exactly when
# the fact changes).
SOURCE_FIELDS = ("id", "tenant_id", "kind", "user_id", "channel", "provider", "status", "created_at", "sent_at",
                 "attempts", "bundle_id")
BATCH = 5000


@dataclass(slots=True)
class Fact:
    notification_id: int
    tenant_id: int
    created_at: object
    channel: str
    provider: str
    sent: bool
    delivered: bool
    failed: bool
    retried: bool
    user_id: int | None
    paged_at: object
    rzone: str
    night: bool
    weekend: bool

    def values(self):
        return tuple(getattr(self, f.name) for f in fields(self))

    def as_row(self):
        return dict(zip(FACT_FIELDS, self.values(), strict=True))


FACT_FIELDS = tuple(f.name for f in fields(Fact))


def recipient_zones(tenant):
    """{user id: the zone their nights and weekends are read in}: the profile's, else the tenant's."""
    fallback = tenant.timezone or "UTC"
    return {pk: zone or fallback for pk, zone in User.objects.filter(tenant=tenant).values_list("pk", "timezone")}


def compute(queryset, zones):
    """Facts of the notifications in `queryset` (`zones`: recipient_zones of their tenant)."""
    tzs = {}
    for pk, tenant_id, kind, user_id, channel, provider, status, created_at, sent_at, attempts, bundle_id in (
            queryset.order_by().values_list(*SOURCE_FIELDS).iterator(chunk_size=BATCH)):
        paged = kind == Notification.Kind.PAGE and bundle_id is None and sent_at is not None
        night = weekend = False
        rzone = ""
        if paged:
            rzone = zones.get(user_id, "UTC")
            tz = tzs.get(rzone) or tzs.setdefault(rzone, zoneinfo.ZoneInfo(rzone))
            local = sent_at.astimezone(tz)
            night = local.hour >= NIGHT_FROM or local.hour < NIGHT_UNTIL
            weekend = local.isoweekday() >= 6
        yield Fact(pk, tenant_id, created_at, channel, provider, sent_at is not None,
                   status == Notification.Status.DELIVERED, status in FAILED, attempts > 1,
                   user_id, sent_at if paged else None, rzone, night, weekend)


def contributions(fact, tz):
    """((measure, span, day, user id, channel, provider, rzone), {counter: 1 or 0}) of one fact."""
    day = fact.created_at.astimezone(tz).date()
    counts = {"total": 1, "sent": fact.sent, "delivered": fact.delivered, "failed": fact.failed,
              "retried": fact.retried}
    for span, start in (("day", day), ("month", day.replace(day=1))):
        yield ("delivery", span, start, 0, fact.channel, fact.provider, ""), counts
    if fact.paged_at is not None:
        day = fact.paged_at.astimezone(tz).date()
        counts = {"total": 1, "night": fact.night, "weekend": fact.weekend,
                  "interruptions": fact.night or fact.weekend}
        for span, start in (("day", day), ("month", day.replace(day=1))):
            yield ("pages", span, start, fact.user_id, fact.channel, "", fact.rzone), counts


KEY = ("measure", "span", "day", "user_id", "channel", "provider", "rzone")


def _add(sums, zone, fact, sign=1):
    for key, counts in contributions(fact, zoneinfo.ZoneInfo(zone)):
        total = sums[(zone, *key)]
        for name, value in counts.items():
            total[name] += sign * int(value)


def fold(tenant, zones, limit=BATCH):
    """Fold up to `limit` dirty notifications of `tenant` into its facts and the roll-ups of
    `zones` (the caller holds the tenant's roll-up lock); how many."""
    dirty = dict(DirtyNotification.objects.filter(tenant_id=tenant.pk).order_by("notification_id")
                 .values_list("notification_id", "version")[:limit])
    if not dirty:
        return 0
    ids = list(dirty)
    new = {f.notification_id: f for f in
           compute(Notification.objects.filter(tenant=tenant, pk__in=ids), recipient_zones(tenant))}
    old = {values[0]: Fact(*values) for values in
           NotificationFact.objects.filter(tenant=tenant, pk__in=ids).values_list(*FACT_FIELDS)}
    deltas = defaultdict(Counter)
    for zone in zones:
        for sign, group in ((-1, old), (1, new)):
            for fact in group.values():
                _add(deltas, zone, fact, sign)
    _apply(tenant, deltas)
    NotificationFact.objects.filter(tenant=tenant, pk__in=ids).delete()
    NotificationFact.objects.bulk_create([NotificationFact(**fact.as_row()) for fact in new.values()])
    _unmark(dirty)  # a change since we read it keeps its mark (a new version)
    return len(dirty)


def _unmark(marks):
    """Delete the marks {id: version} that still have the version we read."""
    table = connection.ops.quote_name(DirtyNotification._meta.db_table)
    items = list(marks.items())
    with connection.cursor() as cursor:
        for i in range(0, len(items), 500):
            chunk = items[i:i + 500]
            cursor.execute(f"DELETE FROM {table} WHERE (notification_id, version) IN "  # noqa: S608 - our name
                           f"({', '.join(['(%s, %s)'] * len(chunk))})", [v for item in chunk for v in item])


def _apply(tenant, deltas):
    keys = {key for key, delta in deltas.items() if any(delta.values())}
    if not keys:
        return
    existing = {}
    for row in NotificationRollup.objects.filter(tenant=tenant, zone__in={k[0] for k in keys},
                                                 day__in={k[3] for k in keys}, channel__in={k[5] for k in keys}):
        key = (row.zone, *(getattr(row, name) for name in KEY))
        if key in keys:
            existing[key] = row
    created = []
    for key in sorted(keys, key=str):
        row = existing.get(key)
        values = {name: (getattr(row, name) if row else 0) + deltas[key][name] for name in COUNTERS}
        if not any(values.values()):
            if row is not None:
                row.delete()
            continue
        if row is None:
            created.append(NotificationRollup(tenant=tenant, zone=key[0], **dict(zip(KEY, key[1:], strict=True)),
                                              **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.save(update_fields=list(values))
    NotificationRollup.objects.bulk_create(created)


def build_zone(tenant, zone, write):
    """The roll-ups of one zone from the facts (`write`: rollups.write)."""
    NotificationRollup.objects.filter(tenant=tenant, zone=zone).delete()
    sums = defaultdict(Counter)
    for values in NotificationFact.objects.filter(tenant=tenant).values_list(*FACT_FIELDS).iterator(chunk_size=BATCH):
        _add(sums, zone, Fact(*values))
    write(NotificationRollup, [
        {"tenant_id": tenant.pk, "zone": key[0], **dict(zip(KEY, key[1:], strict=True)),
         **{name: counts[name] for name in COUNTERS}}
        for key, counts in sums.items() if any(counts.values())])


def rebuild_facts(tenant, write):
    """Every fact of `tenant` from the outbox (the caller rebuilds the zones after); how many."""
    dirty = dict(DirtyNotification.objects.filter(tenant_id=tenant.pk).values_list("notification_id", "version"))
    NotificationRollup.objects.filter(tenant=tenant).delete()
    NotificationFact.objects.filter(tenant=tenant).delete()
    count, batch = 0, []
    for fact in compute(Notification.objects.filter(tenant=tenant), recipient_zones(tenant)):
        batch.append(fact.as_row())
        if len(batch) >= 50_000:
            write(NotificationFact, batch)
            count, batch = count + len(batch), []
    write(NotificationFact, batch)
    _unmark(dirty)
    return count + len(batch)


def pending(tenant):
    return DirtyNotification.objects.filter(tenant_id=tenant.pk).exists()


def mark_dirty(tenant, queryset):
    """Mark the notifications of `queryset` dirty (as the trigger does), e.g. the pages of a
    recipient whose zone changed."""
    table = connection.ops.quote_name(DirtyNotification._meta.db_table)
    ids = list(queryset.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (notification_id, tenant_id, version) VALUES (%s, %s, 1) "  # noqa: S608 - our name
            f"ON CONFLICT (notification_id) DO UPDATE SET version = {table}.version + 1",
            [(pk, tenant.pk) for pk in ids])


def drop_orphans():
    """Marks of tenants that no longer exist (their notifications went with them)."""
    DirtyNotification.objects.exclude(tenant_id__in=Tenant.objects.values("pk")).delete()
