"""bench/escalation: 10,000 PENDING incidents all due for escalation at the same second, performed
by two real Celery worker processes (each runs the ticker; beat is gone) on Redis and PostgreSQL.

Prints steps/s and lateness (from the due second to the step being performed) p50/p99/max.
Target: p99 under 2 seconds.

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/escalation.py [--incidents 10000] [--threads 2] [--sms]

It migrates that database and creates a tenant "bench-escalation" (removed at the end). The
incidents are inserted directly (this measures the engine, not ingest), each at level 0 of a
one-level policy that pages one user (by email, the default for a user without rules; by SMS with
--sms, which adds the search for a free reply code); once both workers are ready, all get the same
`next_escalation_at`, a few seconds ahead. Nothing kicks a task:
the workers find the due rows through the ticked sweeper, exactly as after a broker outage.
A step is "performed" when its incident's level changes in the database; the benchmark polls that
every 50 ms, so lateness is measured to within about 50 ms.

Then it measures this machine's floor: the same rows written by plain SQL from two sessions, with
no Python at all (see postgres_floor). engine/floor says how much of what the database allows the
engine reaches; the floor says what lateness any engine writing these rows could reach here.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main():
    args = parse_args()
    if not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: this benchmark runs real workers.")
    os.environ.setdefault("SWEEP_INTERVAL_SECONDS", "1")

    import django

    django.setup()
    from accounts.models import Tenant

    tenant, user = set_up(args)
    samples = run_storm(args, tenant)
    print_figures(args, tenant, user, samples)
    Tenant.objects.filter(pk=tenant.pk).delete()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=2, help="threads (or child processes) per worker")
    parser.add_argument("--pool", choices=["threads", "prefork"], default="threads")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds from workers ready to the due second")
    parser.add_argument("--sms", action="store_true",
                        help="page by SMS (not the default email): each page then needs a reply code, the smallest "
                             "one free among that user's open incidents")
    return parser.parse_args()


def set_up(args):
    """Migrate, make the tenant, its paged user and policy, and insert the incidents (parked a
    day ahead, so that none is due before the workers are up). Returns (tenant, user)."""
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Tenant
    from alerts import services as alert_services
    from alerts.models import Incident
    from escalation import services as escalation_services
    from ilert import clock
    from tests.factories import TenantFactory, UserFactory

    call_command("migrate", interactive=False, verbosity=0)
    Tenant.objects.filter(slug="bench-escalation").delete()
    vacuum()
    tenant = TenantFactory(name="Bench escalation", slug="bench-escalation")
    user = UserFactory(tenant=tenant, name="Bench Pager", email=f"pager-{int(time.time())}@bench.test")
    if args.sms:
        from tests.notifications.factories import make_method, make_rule

        make_rule(user, make_method(user, "sms", "+15005550006"), "HIGH", 0)
    policy = escalation_services.create_policy(tenant, name="bench", levels=[{"users": [user], "timeout_minutes": 60}])
    source = alert_services.create_alert_source(tenant, name="bench", escalation_policy=policy)

    started = time.time()
    parked = clock.now() + timedelta(days=1)  # not due until the workers are up
    Incident.objects.bulk_create(
        [Incident(tenant=tenant, number=n + 1, alert_source=source, summary=f"bench {n}", incident_key=f"k{n}",
                  dedup_key=f"k{n}", escalation_policy=policy, next_escalation_at=parked)
         for n in range(args.incidents)],
        batch_size=2000,
    )
    print(f"inserted {args.incidents} incidents in {time.time() - started:.1f} s")
    connection.close()
    return tenant, user


def run_storm(args, tenant):
    """Start the two workers, make every incident due at one second and poll until all are
    performed (or 5 minutes pass). Returns [(seconds after the due second, incidents performed)]."""
    from django.db import connection

    from alerts.models import Incident
    from ilert import clock
    from tests.e2e.workers import Worker, purge_broker, wait_for

    purge_broker()
    tmp = Path(tempfile.mkdtemp(prefix="bench-escalation-"))
    workers = [
        Worker(tmp, "w1", beat=True, concurrency=args.threads, pool=args.pool, DATABASE_URL=os.environ["DATABASE_URL"],
               LOG_LEVEL="WARNING").start(),
        Worker(tmp, "w2", beat=False, concurrency=args.threads, pool=args.pool, DATABASE_URL=os.environ["DATABASE_URL"],
               LOG_LEVEL="WARNING").start(),
    ]
    wait_for(lambda: all(" ready." in worker.output() for worker in workers), timeout=120, message="workers ready")
    due = clock.now().replace(microsecond=0) + timedelta(seconds=args.lead)
    Incident.objects.filter(tenant=tenant).update(next_escalation_at=due)
    print(f"workers ready; all due at {due:%H:%M:%S}")
    samples = []  # (seconds after the due second, incidents performed)
    try:
        deadline = time.time() + args.lead + 300
        while time.time() < deadline:
            done = Incident.objects.filter(tenant=tenant, escalation_level__gte=1).count()
            samples.append((time.time() - due.timestamp(), done))
            connection.close()
            if done >= args.incidents:
                break
            time.sleep(0.05)
    finally:
        for worker in workers:
            worker.stop()
    return samples


def lateness_per_incident(samples):
    """One lateness per incident: when the polled count first covered it."""
    lateness = []
    previous = 0
    for seconds, count in samples:
        lateness += [max(0.0, seconds)] * (count - previous)
        previous = count
    return lateness


def print_figures(args, tenant, user, samples):
    from alerts.models import Incident

    performed = samples[-1][1]
    early = [s for s in samples if s[0] < 0 and s[1] > 0]
    lateness = lateness_per_incident(samples)
    first = next(s for s, c in samples if c > 0)
    last = samples[-1][0]
    print(f"bench/escalation: {args.incidents} incidents due at one second, 2 worker processes × "
          f"{args.threads} {'threads' if args.pool == 'threads' else 'children'} (beat in the first), "
          f"sweeper every {os.environ['SWEEP_INTERVAL_SECONDS']} s, one user paged by {'SMS' if args.sms else 'email'}")
    print(f"  performed: {performed}/{args.incidents}  (any before the due second: {len(early)})")
    if lateness:
        span = max(last - first, 1e-6)
        print(f"  steps/s: {performed / span:.0f}  (first at +{first:.2f} s, last at +{last:.2f} s)")
        print(f"  lateness p50 {statistics.median(lateness):.2f} s, p99 {percentile(lateness, 99):.2f} s, "
              f"max {max(lateness):.2f} s  (target p99 < 2 s)")
    paged = Incident.objects.filter(tenant=tenant, assigned_to=user).count()
    print(f"  assigned to the paged user: {paged}; notification rows: "
          f"{user.notifications.count()} (one per incident expected)")
    if args.sms:
        codes = user.notifications.exclude(reply_code=None).values("reply_code").distinct().count()
        print(f"  reply codes: {codes} distinct for {user.notifications.count()} open incidents "
              f"(largest {max(user.notifications.values_list('reply_code', flat=True), default=None)})")
    if lateness:
        vacuum()
        floor = postgres_floor(tenant, sessions=2)
        print(f"  PostgreSQL floor: the same rows written by plain SQL from 2 sessions (no Python): "
              f"{floor:.0f} steps/s; engine/floor {performed / span / floor:.2f}")


def vacuum():
    """Earlier runs leave dead rows behind, and autovacuum may be off (it is on these machines):
    without this, every run is slower than the one before."""
    from django.db import connection

    from alerts.models import Incident, IncidentLogEntry
    from notifications.models import Notification

    with connection.cursor() as cursor:
        for model in (Incident, IncidentLogEntry, Notification):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def postgres_floor(tenant, sessions):
    """What this machine's PostgreSQL alone allows: each session repeats, 500 incidents at a time,
    the writes of one step (the incident UPDATE, and copies of the timeline rows and notification
    rows the engine wrote for it) in one transaction, until every incident has moved once more."""
    import threading

    from django.db import connection

    from alerts.models import Incident, IncidentLogEntry
    from notifications.models import Notification

    def columns(model, override):
        names = [f.column for f in model._meta.concrete_fields if not f.primary_key]
        return ", ".join(names), ", ".join(override.get(n, n) for n in names)

    log_into, log_from = columns(IncidentLogEntry, {})
    note_into, note_from = columns(Notification, {"dedup_key": "dedup_key || '-floor'", "token": "md5(random()::text)"})
    statements = [
        f"""UPDATE {Incident._meta.db_table} SET escalation_level = 2 WHERE id IN (
              SELECT id FROM {Incident._meta.db_table} WHERE tenant_id = %(tenant)s AND escalation_level = 1
              ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED) RETURNING id""",
        f"""INSERT INTO {IncidentLogEntry._meta.db_table} ({log_into}) SELECT {log_from}
              FROM {IncidentLogEntry._meta.db_table}
              WHERE incident_id = ANY(%(ids)s) AND via IN ('escalation', 'notifications')""",
        f"""INSERT INTO {Notification._meta.db_table} ({note_into}) SELECT {note_from}
              FROM {Notification._meta.db_table} WHERE incident_id = ANY(%(ids)s)""",
    ]

    def session():
        from django.db import connection, transaction

        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statements[0], {"tenant": tenant.pk})
                ids = [row[0] for row in cursor.fetchall()]
                if not ids:
                    break
                for sql in statements[1:]:
                    cursor.execute(sql, {"ids": ids})
        connection.close()

    total = Incident.objects.filter(tenant=tenant, escalation_level=1).count()
    connection.close()
    threads = [threading.Thread(target=session) for _ in range(sessions)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
