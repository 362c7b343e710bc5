"""Benchmark: the reports over a big history. Inserts N incidents (default 1,000,000) spread over two
years into one fresh tenant with COPY (with their timeline entries for acceptance and resolution and
one page each), three schedules with 600 overrides, rebuilds the report roll-ups, then times every
report for a 90-day and a 2-year range, from the roll-ups and with the live query, and the People
report part by part. PostgreSQL only.

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert_h3 \\
        .venv/bin/python bench/reports.py [--incidents 1000000] [--repeat 3] [--keep] [--skip-live-2y]
    # time again the tenant a --keep run left (optionally rebuilding the roll-ups first):
        .venv/bin/python bench/reports.py --reuse --keep [--rebuild | --rebuild-notifications]

The tenant "reports-bench" is removed at the start (and at the end unless --keep)."""

import argparse
import csv
import io
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import NOT_PROVIDED  # noqa: E402

from accounts.models import Tenant, User  # noqa: E402
from alerts.models import AlertSource, Incident, IncidentCounter, IncidentLogEntry  # noqa: E402
from escalation.models import EscalationPolicy  # noqa: E402
from notifications.models import Notification  # noqa: E402
from reports import queries, rollups  # noqa: E402
from reports.models import DailyRollup, IncidentFact, NotificationFact, NotificationRollup, OnCallDay  # noqa: E402
from reports.params import parse  # noqa: E402
from schedules import selectors as schedule_selectors  # noqa: E402
from schedules.models import Schedule  # noqa: E402

SLUG = "reports-bench"
REPORT_TABLES = [DailyRollup, IncidentFact, NotificationFact, NotificationRollup]
CHUNK = 100_000


def copy(model, rows):
    """COPY plain dicts {attname: value} into the model's table; missing fields get their defaults."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.attname in rows[0]]
    defaults = {}
    for f in fields:
        if f.attname not in rows[0]:
            if f.default is not NOT_PROVIDED:
                defaults[f.attname] = f.get_default()
            elif f.null:
                defaults[f.attname] = None
            else:
                defaults[f.attname] = ""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        out = []
        for f in fields:
            value = row.get(f.attname, defaults.get(f.attname))
            if isinstance(value, (dict, list)):
                value = json.dumps(value)
            elif value is None:
                value = r"\N"
            elif isinstance(value, bool):
                value = "t" if value else "f"
            elif isinstance(value, datetime):
                value = value.isoformat()
            out.append(value)
        writer.writerow(out)
    buffer.seek(0)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    with connection.cursor() as cursor:
        cursor.copy_expert(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')',
                           buffer)


def next_ids(model, count):
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
                       [count])
        return [row[0] for row in cursor.fetchall()]


def generate(n, seed=1):
    rng = random.Random(seed)
    tenant, users, sources = make_tenant(rng)
    keys = [f"host-{i}/check-{i % 7}" for i in range(300)]
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=730)
    span = (end - start).total_seconds()
    times = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(n))
    number = 0
    for offset in range(0, n, CHUNK):
        chunk = times[offset:offset + CHUNK]
        ids = next_ids(Incident, len(chunk))
        incidents, entries, pages = [], [], []
        for pk, created in zip(ids, chunk, strict=True):
            number += 1
            incident, incident_entries, page = fake_incident(rng, tenant, pk, number, created, sources, users, keys)
            incidents.append(incident)
            entries += incident_entries
            pages.append(page)
        copy(Incident, incidents)
        copy(IncidentLogEntry, entries)
        copy(Notification, pages)
        print(f"  {offset + len(chunk):,} incidents inserted", flush=True)
    IncidentCounter.objects.update_or_create(tenant=tenant, defaults={"last_number": number})
    make_schedules(tenant, users, start, end, rng)
    with connection.cursor() as cursor:
        for model in (Incident, IncidentLogEntry, Notification):
            # VACUUM too: the reports' covering indexes are read index-only once the visibility map
            # is set (autovacuum does it in production; right after a bulk COPY it has not yet).
            cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
    return tenant, users[0]


def make_tenant(rng):
    """The fresh tenant with 20 users, 5 policies and 10 alert sources: (tenant, users, sources)."""
    Tenant.objects.filter(slug=SLUG).delete()
    tenant = Tenant.objects.create(name="Reports bench", slug=SLUG, timezone="Europe/Berlin")
    users = [User.objects.create_user(f"u{i}@reports-bench.test", tenant=tenant, name=f"User {i}",
                                      timezone=rng.choice(["", "", "America/New_York"]) if i % 5 == 0 else "")
             for i in range(20)]
    policies = [EscalationPolicy.objects.create(tenant=tenant, name=f"Policy {i}") for i in range(5)]
    sources = []
    for i in range(10):
        source = AlertSource(tenant=tenant, name=f"Source {i}", escalation_policy=policies[i % 5])
        source.set_integration_key(f"reports-bench-key-{i}-{rng.random()}")
        source.save()
        sources.append(source)
    return tenant, users, sources


def fake_incident(rng, tenant, pk, number, created, sources, users, keys):
    """One incident's rows for COPY: (incident, [timeline entries], page). The draws from `rng` stay
    in this order, so that one seed always makes the same history."""
    source = rng.choice(sources)
    user = rng.choice(users)
    accepted = resolved = None
    roll = rng.random()
    if roll < 0.75:
        accepted = created + timedelta(seconds=int(rng.expovariate(1 / 300)))
    if roll < 0.95:
        resolved = (accepted or created) + timedelta(seconds=int(rng.expovariate(1 / 3600)))
    key = keys[min(int(rng.paretovariate(1.2)) - 1, len(keys) - 1)]
    incident = {
        "id": pk, "tenant_id": tenant.pk, "number": number, "alert_source_id": source.pk,
        "summary": f"{key} failing", "priority": "HIGH" if rng.random() < 0.7 else "LOW",
        "status": "RESOLVED" if resolved else "ACCEPTED" if accepted else "PENDING",
        "incident_key": key, "dedup_key": None, "assigned_to_id": user.pk if accepted else None,
        "accepted_by_id": user.pk if accepted else None, "accepted_at": accepted,
        "resolved_by_id": user.pk if resolved and rng.random() < 0.6 else None, "resolved_at": resolved,
        "event_count": 1 + int(rng.expovariate(0.5)), "created_at": created, "last_event_at": created,
        "in_maintenance": rng.random() < 0.01, "escalation_policy_id": source.escalation_policy_id,
    }
    entries = [{"tenant_id": tenant.pk, "incident_id": pk, "at": created, "kind": "created", "via": "api"}]
    if accepted:
        entries.append({"tenant_id": tenant.pk, "incident_id": pk, "at": accepted, "kind": "accepted",
                        "actor_id": user.pk, "via": rng.choice(["sms", "voice", "push", "email", "dashboard"])})
    if resolved:
        entries.append({"tenant_id": tenant.pk, "incident_id": pk, "at": resolved, "kind": "resolved",
                        "via": "api"})
    sent = created + timedelta(seconds=5)
    channel = rng.choice(["sms", "voice", "push", "email"])
    status = rng.choices(["delivered", "sent", "failed"], [0.8, 0.15, 0.05])[0]
    page = {"tenant_id": tenant.pk, "kind": "page", "incident_id": pk, "user_id": user.pk,
            "channel": channel, "address": "x", "dedup_key": f"rb-{pk}", "status": status,
            "due_at": created, "sent_at": sent if status != "failed" else None,
            "delivered_at": sent if status == "delivered" else None,
            "attempts": 1 + (rng.random() < 0.05), "provider": "twilio" if channel in ("sms", "voice")
            else "fcm" if channel == "push" else "email", "token": f"rb{pk:030d}", "created_at": created}
    return incident, entries, page


def make_schedules(tenant, users, start, end, rng):
    """Three schedules (a weekly rota, restricted evening and weekend layers) and 600 overrides
    over the two years: what "time on call" resolves."""
    from schedules import services
    from schedules.models import Override

    first = start.replace(tzinfo=None, hour=9, minute=0, second=0)
    plans = [
        ("Primary", [("Weeks", users[:6], 1, "weeks", [])]),
        ("Secondary", [("Office", users[6:12], 1, "weeks",
                        [{"type": "time_of_week", "start_day": "mon", "start": "09:00", "end_day": "fri",
                          "end": "17:00"}]),
                       ("Evenings", users[12:16], 1, "days",
                        [{"type": "time_of_day", "start": "17:00", "end": "09:00"}])]),
        ("Weekends", [("Halves", users[16:20], 12, "hours",
                       [{"type": "time_of_week", "start_day": "fri", "start": "17:00", "end_day": "mon",
                         "end": "09:00"}])]),
    ]
    schedules = []
    for name, layers in plans:
        schedule = services.create_schedule(tenant, name=name, timezone="Europe/Berlin")
        for layer, members, count, unit, restrictions in layers:
            services.create_layer(schedule, name=layer, users=members, rotation_start=first, length_count=count,
                                  length_unit=unit, restrictions=restrictions)
        schedules.append(schedule)
    minutes = int((end - start).total_seconds() // 60)
    Override.objects.bulk_create([
        Override(tenant=tenant, schedule=rng.choice(schedules), user=rng.choice(users),
                 start=(s := start + timedelta(minutes=rng.randrange(0, minutes))),
                 end=s + timedelta(minutes=rng.randrange(60, 48 * 60)))
        for _ in range(600)
    ])


def timed(function, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main():
    args = parse_args()
    assert connection.vendor == "postgresql", "bench/reports.py needs DATABASE_URL (PostgreSQL)"
    call_command("migrate", verbosity=0)
    print(f"load average before: {os.getloadavg()}")
    tenant, reader = history(args)
    rebuild(args, tenant)
    today = datetime.now(UTC).date()
    print_report_timings(args, tenant, reader, today)
    print_people_parts(args, tenant, reader, today)
    print(f"load average after: {os.getloadavg()}")
    if not args.keep:
        Tenant.objects.filter(slug=SLUG).delete()


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true",
                        help="time the tenant a --keep run left (no insert, no rebuild unless --rebuild)")
    parser.add_argument("--rebuild", action="store_true", help="with --reuse: rebuild the roll-ups first")
    parser.add_argument("--rebuild-notifications", action="store_true",
                        help="with --reuse: rebuild the outbox roll-ups first (not the incidents')")
    parser.add_argument("--skip-live-2y", action="store_true", help="skip the live query over 2 years (slow)")
    return parser.parse_args()


def history(args):
    """The tenant a --keep run left (with --reuse), else a freshly generated one: (tenant, reader)."""
    tenant = Tenant.objects.filter(slug=SLUG).first() if args.reuse else None
    if tenant is None:
        started = time.perf_counter()
        tenant, reader = generate(args.incidents)
        print(f"generated {args.incidents:,} incidents in {time.perf_counter() - started:.0f} s")
    else:
        reader = User.objects.get(email="u0@reports-bench.test")
    return tenant, reader


def rebuild(args, tenant):
    """Rebuild the roll-ups (always on a fresh history; with --reuse, as --rebuild and
    --rebuild-notifications say)."""
    if tenant is not None and (not args.reuse or args.rebuild):
        started = time.perf_counter()
        rollups.rebuild(tenant)
        with connection.cursor() as cursor:
            for model in REPORT_TABLES:
                cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
        print(f"rebuild_report_rollups: {time.perf_counter() - started:.0f} s")
    if args.reuse and args.rebuild_notifications:
        started = time.perf_counter()
        count = rollups.rebuild_notifications(tenant)
        with connection.cursor() as cursor:
            for model in (NotificationFact, NotificationRollup):
                cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
        print(f"outbox roll-ups of {count:,} notifications rebuilt in {time.perf_counter() - started:.0f} s")


def print_report_timings(args, tenant, reader, today):
    """Every report over 90 days and 2 years, from the roll-ups and live (milliseconds)."""
    print(f"{'report':10} {'range':6} {'roll-ups ms':>12} {'live ms':>10}")
    for days, label in ((90, "90 d"), (730, "2 y")):
        query = {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
        for name, (function, allowed) in queries.REPORTS.items():
            extra = {"group": "assignee"} if name == "response" else {}
            p = parse({**query, **extra}, tenant=tenant, user=reader, allowed=allowed)
            fast = timed(lambda f=function, p=p: f(p, rollup=True), args.repeat)
            if days > 90 and args.skip_live_2y:
                slow = float("nan")
            else:
                slow = timed(lambda f=function, p=p: f(p, rollup=False), 1)
            print(f"{name:10} {label:6} {fast:12.0f} {slow:10.0f}", flush=True)


def print_people_parts(args, tenant, reader, today):
    """The people report part by part (roll-ups), over 90 days and 2 years (milliseconds)."""
    print("people, part by part (roll-ups), ms:")
    for days, label in ((90, "90 d"), (730, "2 y")):
        query = {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
        p = parse(query, tenant=tenant, user=reader, allowed=queries.PEOPLE_FILTERS)
        users = {u.pk: u for u in User.objects.filter(tenant=tenant)}
        parts = {
            "load plans": lambda p=p: schedule_selectors.load_plans(list(Schedule.objects.filter(tenant=tenant)),
                                                                    p.start, p.end),
            "answered": lambda p=p: queries.sums(p, ("all", "acceptor"), rollup=True, hists=("ack_hist",)),
            "pages": lambda p=p, u=users: queries._pages_from_rollups(p, u),
            "pages live": lambda p=p, u=users: queries._pages(p, u),
            "time on call (days)": lambda p=p, u=users: queries._time_on_call(p, u),
            "time on call (live)": lambda p=p, u=users: queries._time_on_call(p, u, live=True),
        }
        OnCallDay.objects.filter(tenant=tenant).delete()  # the first read computes every day
        cold = timed(lambda p=p, u=users: queries._time_on_call(p, u), 1)
        print(f"  {label}: time on call (days, first read) {cold:.0f}, " + ", ".join(
            f"{name} {timed(lambda f=f: queries._without_jit(lambda _p: f())(None), args.repeat):.0f}"
            for name, f in parts.items()), flush=True)


if __name__ == "__main__":
    main()
