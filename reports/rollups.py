"""Keeping the daily roll-ups (docs/reports.md, "Roll-ups"): fold dirty incidents and notifications
in, build a new zone from the facts, rebuild everything from the other apps' tables.

All writers of one tenant's roll-ups take its ReportZone rows FOR UPDATE first, so they run one at
a time per tenant (on SQLite the database runs writers one at a time anyway)."""

import csv
import io
import json
import zoneinfo
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Min

from accounts.models import Tenant, User
from alerts.models import Incident
from ilert import clock

from . import facts, notification_rollups
from .models import DailyRollup, DirtyIncident, DirtyNotification, IncidentFact, ReportZone

BATCH = 1000


def wanted_zones(tenant):
    zones = {tenant.timezone or "UTC"}
    zones.update(z for z in User.objects.filter(tenant=tenant).exclude(timezone="")
                 .values_list("timezone", flat=True).distinct())
    return sorted(zones)


def _lock(tenant):
    """The tenant's zones, locked. Zones that are new are built from the facts when the facts are
    complete: once a zone was built, or at the start when every incident is a fact or dirty (a
    tenant with incidents from before the reports app waits for `rebuild_report_rollups`)."""
    zones = list(ReportZone.objects.select_for_update().filter(tenant=tenant).order_by("id"))
    missing = [zone for zone in wanted_zones(tenant) if zone not in {z.zone for z in zones}]
    if missing:
        complete = any(z.built_at for z in zones) or (not zones and not _unseen_incidents(tenant))
        try:
            with transaction.atomic():
                ReportZone.objects.bulk_create([ReportZone(tenant=tenant, zone=zone) for zone in missing])
        except IntegrityError:  # a concurrent writer made them: wait for its lock
            pass
        zones = list(ReportZone.objects.select_for_update().filter(tenant=tenant).order_by("id"))
        for zone in zones:
            if complete and zone.built_at is None:
                _build_zone(tenant, zone)
    return [z.zone for z in zones]


def _unseen_incidents(tenant):
    return (Incident.objects.filter(tenant=tenant)
            .exclude(pk__in=DirtyIncident.objects.filter(tenant=tenant).values("incident_id"))
            .exclude(pk__in=IncidentFact.objects.filter(tenant=tenant).values("incident_id")).exists())


def built_zones(tenant):
    return set(ReportZone.objects.filter(tenant=tenant, built_at__isnull=False).values_list("zone", flat=True))


def _build_zone(tenant, zone):
    DailyRollup.objects.filter(tenant=tenant, zone=zone.zone).delete()
    tz = zoneinfo.ZoneInfo(zone.zone)
    sums = defaultdict(facts.Totals)
    for values in IncidentFact.objects.filter(tenant=tenant).values_list(*facts.FACT_FIELDS).iterator(chunk_size=5000):
        fact = facts.Fact(*values)
        for span, day in periods(fact, tz):
            for dim, value in fact.dims():
                sums[(span, day, dim, value)].add_fact(fact)
    _insert(tenant, zone.zone, sums)
    notification_rollups.build_zone(tenant, zone.zone, write)
    zone.built_at = clock.now()
    zone.save(update_fields=["built_at"])


def periods(fact, tz):
    """The roll-up rows' periods an incident counts in: its local day and its local month."""
    day = fact.created_at.astimezone(tz).date()
    return (("day", day), ("month", day.replace(day=1)))


def _insert(tenant, zone, sums):
    rows = [{"tenant_id": tenant.pk, "zone": zone, "span": span, "day": day, "dim": dim, "value": value,
             **totals.as_row()} for (span, day, dim, value), totals in sums.items() if not totals.empty]
    write(DailyRollup, rows)


def write(model, rows):
    """Insert plain dicts {attname: value}: COPY on PostgreSQL (a rebuild writes a row per incident
    and hundreds of thousands of roll-ups; Django's bulk_create spends minutes preparing them), else
    bulk_create."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], batch_size=2000)
        return
    fields = [f for f in model._meta.concrete_fields if f.attname in rows[0]]
    buffer = io.StringIO()
    out = csv.writer(buffer)
    for row in rows:
        out.writerow([_csv_value(row[f.attname]) for f in fields])
    buffer.seek(0)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
                           "FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer)


def _csv_value(value):
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def fold(tenant, limit=BATCH):
    """Fold up to `limit` dirty or appended-to incidents of `tenant` into its facts and roll-ups;
    how many."""
    with transaction.atomic():
        zones = _lock(tenant)
        dirty = dict(DirtyIncident.objects.filter(tenant=tenant).order_by("incident_id")
                     .values_list("incident_id", "token")[:limit])
        behind = behind_facts(tenant).order_by("incident_id").values_list("incident_id", flat=True)[:limit]
        behind = [pk for pk in behind if pk not in dirty][:limit - len(dirty)]
        folded = [*dirty, *behind]
        if not folded:
            return 0
        new = {fact.incident_id: fact for fact in facts.compute(Incident.objects.filter(pk__in=folded))}
        old = {values[0]: facts.Fact(*values) for values in
               IncidentFact.objects.filter(pk__in=folded).values_list(*facts.FACT_FIELDS)}
        deltas = defaultdict(facts.Totals)
        for zone in zones:
            tz = zoneinfo.ZoneInfo(zone)
            for sign, group in ((-1, old), (1, new)):
                for fact in group.values():
                    for span, day in periods(fact, tz):
                        for dim, value in fact.dims():
                            deltas[(zone, span, day, dim, value)].add_fact(fact, sign)
        _apply(tenant, deltas)
        IncidentFact.objects.filter(pk__in=folded).delete()
        IncidentFact.objects.bulk_create([IncidentFact(**_fields(fact)) for fact in new.values()])
        for pk, token in dirty.items():  # a change since we read it keeps its row (a new token)
            DirtyIncident.objects.filter(incident_id=pk, token=token).delete()
        return len(folded)


def _months(tenant):
    span = Incident.objects.filter(tenant=tenant).aggregate(first=Min("created_at"), last=Max("created_at"))
    if span["first"] is None:
        return
    start = span["first"]
    while start <= span["last"]:
        end = start + timedelta(days=30)
        yield start, end
        start = end


def _fields(fact):
    return dict(zip(facts.FACT_FIELDS, fact.values(), strict=True))


def _apply(tenant, deltas):
    keys = {key for key, delta in deltas.items() if not delta.empty}
    if not keys:
        return
    days = {day for _, _, day, _, _ in keys}
    existing = {}
    for row in DailyRollup.objects.filter(tenant=tenant, zone__in={k[0] for k in keys}, day__in=days,
                                          dim__in={k[3] for k in keys}, value__in={k[4] for k in keys}):
        key = (row.zone, row.span, row.day, row.dim, row.value)
        if key in keys:
            existing[key] = row
    created = []
    for key in sorted(keys):
        totals = facts.Totals()
        row = existing.get(key)
        if row is not None:
            totals.add_row(row)
        totals.merge(deltas[key])
        if totals.empty and not totals.as_row()["ack_hist"] and not totals.as_row()["resolve_hist"]:
            if row is not None:
                row.delete()
            continue
        values = totals.as_row()
        if row is None:
            zone, span, day, dim, value = key
            created.append(DailyRollup(tenant=tenant, zone=zone, span=span, day=day, dim=dim, value=value, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.save(update_fields=list(values))
    DailyRollup.objects.bulk_create(created)


def behind_facts(tenant=None):
    """The facts (of `tenant`, or of all tenants) of open incidents whose event count moved on since
    they were folded. An event appended to an open incident is one statement on the intake's hot
    path (alerts/services/append.py) and marks nothing; only open incidents take appends, and every
    other change marks itself (receivers.py). The fold takes these with the dirty ones and writes no
    mark for them: a mark written by a report read would be held to the end of the report's
    transaction, and marks written in another order by a concurrent fold deadlocked with it. An
    append committed while a fold runs leaves its incident behind, for the next fold."""
    behind = IncidentFact.objects.filter(incident__status__in=Incident.OPEN).exclude(events=F("incident__event_count"))
    return behind if tenant is None else behind.filter(incident__tenant=tenant)


def catch_up(tenant, max_batches=50):
    """Fold every dirty or appended-to incident of the tenant (a report does this before it reads
    roll-ups)."""
    for _ in range(max_batches):
        if fold(tenant) < BATCH:
            return


def fold_notifications(tenant, limit=notification_rollups.BATCH):
    """Fold up to `limit` dirty notifications of `tenant`; how many."""
    with transaction.atomic():
        return notification_rollups.fold(tenant, _lock(tenant), limit)


def catch_up_notifications(tenant, max_batches=20):
    """Fold the tenant's dirty notifications; False when some are left (a report then reads live)."""
    for _ in range(max_batches):
        if fold_notifications(tenant) < notification_rollups.BATCH:
            return True
    return not notification_rollups.pending(tenant)


def sweep():
    tenants = set(DirtyIncident.objects.values_list("tenant_id", flat=True).distinct().order_by()[:100])
    tenants.update(behind_facts().values_list("tenant_id", flat=True).distinct().order_by()[:100])
    for tenant_id in sorted(tenants):
        catch_up(Tenant.objects.get(pk=tenant_id))
    notification_rollups.drop_orphans()
    for tenant_id in DirtyNotification.objects.values_list("tenant_id", flat=True).distinct().order_by()[:100]:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is not None:  # removed meanwhile: its marks go at the next tick
            catch_up_notifications(tenant)


def rebuild(tenant, *, log=None):
    """Facts and roll-ups of `tenant` (incidents and notifications) from the other apps' tables (the
    live query's facts); how many incidents."""
    with transaction.atomic():
        ReportZone.objects.filter(tenant=tenant).update(built_at=None)
        _lock(tenant)  # makes missing zones (built below, like all)
        dirty = dict(DirtyIncident.objects.filter(tenant=tenant).values_list("incident_id", "token"))
        zones = list(ReportZone.objects.filter(tenant=tenant))
        DailyRollup.objects.filter(tenant=tenant).delete()
        IncidentFact.objects.filter(tenant=tenant).delete()
        count = 0
        for start, end in _months(tenant):  # a month at a time: bounded memory
            batch = [{"tenant_id": fact.tenant_id, **_fields(fact)} for fact in
                     facts.compute(Incident.objects.filter(tenant=tenant, created_at__gte=start, created_at__lt=end))]
            write(IncidentFact, batch)
            count += len(batch)
            if log:
                log(f"{count} facts")
        notifications = notification_rollups.rebuild_facts(tenant, write)
        if log:
            log(f"{notifications} notification facts")
        for zone in zones:
            _build_zone(tenant, zone)
        for pk, token in dirty.items():
            DirtyIncident.objects.filter(incident_id=pk, token=token).delete()
        return count


def rebuild_notifications(tenant):
    """The outbox facts and roll-ups of `tenant` only (the incident roll-ups left as they are); how
    many notifications."""
    with transaction.atomic():
        zones = _lock(tenant)
        count = notification_rollups.rebuild_facts(tenant, write)
        for zone in zones:
            notification_rollups.build_zone(tenant, zone, write)
        return count
