"""bench/metrics: what the operator metrics cost (docs/metrics.md). Prints figures; not a test.

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert_bench .venv/bin/python bench/metrics.py
    METRICS_MULTIPROCESS=false ... bench/metrics.py      # the same in single-process mode

1. One instrumented call (a labelled counter increment; a histogram observation) in this mode:
   nanoseconds each.
2. The Event API's ingest with and without its instrumentation: events are ingested in alternating
   blocks through `alerts.services.ingest` (instrumented) and through the function it wraps (the
   same code, not counted), appended to 100 open incidents (a noisy source's steady state) →
   microseconds per event each, and the ratio. Alternating blocks share the machine's load.
3. A scrape with a history of finished notifications (default 100,000 sent) and N open ones (default
   1,000 pending): the scrape-time reads alone and the whole answer, milliseconds (median of 5),
   and PostgreSQL's plan for the outbox read (it should use the partial index notification_due).

It migrates the database and creates a tenant "bench-metrics" (removed at the end).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret")


def per_call(fn, n=200_000):
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e9


def main():
    args = parse_args()
    os.environ["ILERT_KICK_TASKS"] = "false"  # ingest alone: no kicked escalation or notification work

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Tenant
    from alerts import services
    from ilert import metrics
    from notifications.models import Notification
    from tests.factories import TenantFactory

    mode = f"multiprocess ({metrics.MULTIPROC_DIR})" if metrics.MULTIPROC_DIR else "single-process"
    print(f"bench/metrics: {connection.vendor}, {mode}, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print_call_costs()

    call_command("migrate", interactive=False, verbosity=0)
    Tenant.objects.filter(slug="bench-metrics").delete()
    tenant = TenantFactory(name="Bench metrics", slug="bench-metrics")
    try:
        source = services.create_alert_source(tenant, name="bench")
        measure_ingest(args, source)
        measure_scrape(args, tenant, source)
    finally:
        Notification.objects.filter(tenant=tenant).delete()
        tenant.delete()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000, help="events per variant")
    parser.add_argument("--block", type=int, default=200, help="events per alternating block")
    parser.add_argument("--history", type=int, default=100_000, help="sent notifications (history) for the scrape")
    parser.add_argument("--outbox", type=int, default=1_000, help="pending notifications for the scrape")
    return parser.parse_args()


def print_call_costs():
    """Part 1: one instrumented call."""
    from ilert import metrics

    print("\n1. one instrumented call")
    counter = metrics.INGEST_EVENTS.labels("api", "EVENT_APPENDED")
    print(f"   counter.labels(...).inc():   {per_call(lambda: metrics.INGEST_EVENTS.labels('api', 'x').inc()):7.0f} ns")
    print(f"   counter child .inc():        {per_call(counter.inc):7.0f} ns")
    hist = metrics.INGEST_SECONDS.labels("api")
    print(f"   histogram child .observe():  {per_call(lambda: hist.observe(0.003)):7.0f} ns")


def measure_ingest(args, source):
    """Part 2: ingest with and without its instrumentation, in alternating blocks."""
    from alerts import services
    from alerts.ingest import EventType, InboundEvent

    keys = [f"k{i}" for i in range(100)]
    for key in keys:
        services.ingest(source, InboundEvent(event_type=EventType.ALERT, summary="open", incident_key=key))
    variants = {"instrumented": services.ingest, "bare": services.ingest.__wrapped__}
    seconds = {name: 0.0 for name in variants}
    done = {name: 0 for name in variants}
    i = 0
    while min(done.values()) < args.events:
        for name, ingest in variants.items():
            started = time.perf_counter()
            for _ in range(args.block):
                ingest(source, InboundEvent(event_type=EventType.ALERT, summary=f"event {i}",
                                            incident_key=keys[i % len(keys)]))
                i += 1
            seconds[name] += time.perf_counter() - started
            done[name] += args.block
    per_event = {name: seconds[name] / done[name] * 1e6 for name in variants}
    print(f"\n2. ingest, {done['bare']} events each, alternating blocks of {args.block}")
    for name in variants:
        print(f"   {name:13s} {per_event[name]:8.0f} µs/event  ({done[name] / seconds[name]:6.0f} events/s)")
    print(f"   instrumented / bare: {per_event['instrumented'] / per_event['bare']:.3f}")


def measure_scrape(args, tenant, source):
    """Part 3: a scrape over a history of sent notifications and an outbox of pending ones."""
    from django.db import connection

    from ilert import exposition

    make_notifications(args, tenant, source)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE notifications_notification")
    reads, renders = [], []
    for _ in range(5):
        started = time.perf_counter()
        list(exposition.StateCollector().collect())
        reads.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        from prometheus_client import generate_latest

        body = generate_latest(exposition.registry())
        renders.append((time.perf_counter() - started) * 1000)
    print(f"\n3. a scrape with {args.history} sent and {args.outbox} pending notifications")
    print(f"   scrape-time reads: {statistics.median(reads):7.1f} ms")
    print(f"   whole answer:      {statistics.median(renders):7.1f} ms ({len(body)} bytes)")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN SELECT channel, count(id), min(due_at) FROM notifications_notification "
                           "WHERE status = 'pending' GROUP BY channel")
            plan = " / ".join(row[0].strip() for row in cursor.fetchall())
        print(f"   plan: {plan}")


def make_notifications(args, tenant, source):
    from alerts import services
    from alerts.ingest import EventType, InboundEvent
    from ilert import clock
    from notifications.models import Notification
    from tests.factories import UserFactory

    user = UserFactory(tenant=tenant, email=f"bench-metrics-{int(time.time())}@bench.test")
    incident = services.ingest(source, InboundEvent(event_type=EventType.ALERT, summary="outbox")).incident
    now = clock.now()
    Notification.objects.bulk_create([
        Notification(tenant=tenant, incident=incident, user=user, channel=("email", "sms", "voice", "push")[n % 4],
                     address="x", dedup_key=f"bench-metrics-{n}", due_at=now, token=f"bm{n:018d}",
                     status="pending" if n < args.outbox else "sent")
        for n in range(args.outbox + args.history)], batch_size=5000)


if __name__ == "__main__":
    main()
