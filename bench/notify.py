"""bench/notify: time from an Event API POST to the SMS request leaving the twilio client, through
the real stack: gunicorn, a Celery worker (threads, ticking the sweepers) on Redis, PostgreSQL, and a fake
Twilio HTTP server on 127.0.0.1 that timestamps every request it receives.

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert_bench REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/notify.py [--incidents 1000] [--concurrency 8]

Each POST opens a new incident (distinct alertKey); the source's escalation policy pages one user
at level 1 (the real engine: kicked task after commit, sweeper as the safety net). The
user has one rule (SMS at once) with bundling and throttling off for this contact method, so every
incident is one SMS (with them on, 1,000 pages to one person would be bundled, as designed).
Target: p99 under 1 second.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret")

SID, TOKEN = "AC" + "be0c" * 8, "bench-token"


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def _stages(tenant):
    """Where the time goes, from the database: incident opened → escalation step → page claimed → sent."""
    from alerts.models import Incident, IncidentLogEntry
    from notifications.models import Notification

    opened = dict(Incident.objects.filter(tenant=tenant).values_list("pk", "created_at"))
    stepped = dict(IncidentLogEntry.objects.filter(tenant=tenant, kind="escalated").values_list("incident_id", "at"))
    rows = Notification.objects.filter(tenant=tenant, kind="page").values_list(
        "incident_id", "created_at", "first_claimed_at", "sent_at")
    out = {"opened→step": [], "step→page row": [], "page row→claimed": [], "claimed→sent": []}
    for incident_id, created, claimed, sent in rows:
        if incident_id in stepped and incident_id in opened and claimed and sent:
            out["opened→step"].append((stepped[incident_id] - opened[incident_id]).total_seconds())
            out["step→page row"].append((created - stepped[incident_id]).total_seconds())
            out["page row→claimed"].append((claimed - created).total_seconds())
            out["claimed→sent"].append((sent - claimed).total_seconds())
    return out


def main():
    args = parse_args()
    if not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: this benchmark runs the real stack.")

    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from accounts.models import Tenant
    from tests.notifications.fakes import FakeTwilio

    tenant, key = set_up()
    fake = FakeTwilio(SID, TOKEN)
    posted_at = {}  # tag: (posted, answered)
    posting, split = run_stack(args, key, fake, posted_at)

    latencies, answers = measured_latencies(fake, posted_at)
    stages = _stages(tenant)
    if len(latencies) < args.incidents:
        print_missing(tenant, fake, posted_at)
    Tenant.objects.filter(pk=tenant.pk).delete()
    if not latencies:
        sys.exit("no SMS arrived")
    print_figures(args, fake, stages, latencies, answers, posting)
    if line := split.per(args.incidents, "incident"):
        print(f"  {line}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8, help="clients posting events at once")
    parser.add_argument("--rate", type=float, default=0,
                        help="open loop: post this many events per second (default: closed loop, as fast as the "
                             "clients can)")
    parser.add_argument("--worker-threads", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-processes", type=int, default=1, help="Celery worker processes (threads each)")
    return parser.parse_args()


def set_up():
    """Migrate; make the tenant, its user paged by SMS at once (bundling and throttling off) and
    the alert source. Returns (tenant, the source's integration key)."""
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import Tenant
    from alerts import services as alert_services
    from bench.ingest.__main__ import vacuum_all
    from escalation import services as escalation_services
    from notifications.models import ContactMethod, NotificationRule
    from tests.factories import TenantFactory, UserFactory

    call_command("migrate", interactive=False, verbosity=0)
    Tenant.objects.filter(slug="bench-notify").delete()
    vacuum_all()  # the last run's rows, just deleted, would slow this one where autovacuum is off
    tenant = TenantFactory(name="Bench notify", slug="bench-notify")
    user = UserFactory(tenant=tenant, email=f"pager-{int(time.time())}@bench.test", name="Bench Pager")
    method = ContactMethod.objects.create(tenant=tenant, user=user, kind="sms", address="+4915112345678",
                                          verified_at=timezone.now(), throttle_max=0, bundle_seconds=0)
    NotificationRule.objects.create(tenant=tenant, user=user, contact_method=method, priority="HIGH", delay_minutes=0)
    policy = escalation_services.create_policy(tenant, name="bench", levels=[{"users": [user], "timeout_minutes": 60}])
    source = alert_services.create_alert_source(tenant, name="bench", escalation_policy=policy)
    return tenant, source.integration_key


def run_stack(args, key, fake, posted_at):
    """Start the fake Twilio and the stack, post the events, wait (up to 60 s) for their SMS.
    Returns the seconds the posting took and where the CPU went meanwhile (bench.cpu.Split)."""
    from bench import cpu
    from tests.e2e.stack import Stack
    from tests.notifications.fakes import FakeTwilioServer

    tmp = tempfile.mkdtemp(prefix="bench-notify-")
    print(f"logs: {tmp}/stack.log")
    with FakeTwilioServer(fake) as server:
        env = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": "+15005550006",
               "TWILIO_API_BASE_URL": server.url,
               "INGEST_RATE_LIMIT": "100000/minute"}
        with Stack(database_url=os.environ["DATABASE_URL"], redis_url=os.environ["REDIS_URL"], env=env, tmp=tmp,
                   worker_concurrency=args.worker_threads, web_workers=args.web_workers,
                   worker_processes=args.worker_processes) as stack:
            port = urlsplit(stack.url).port
            # Warm up connections and code paths (not counted).
            asyncio.run(post_events(port, key, {}, range(900_000, 900_005), concurrency=5))
            time.sleep(1)
            with cpu.measure() as split:
                begun = time.time()
                asyncio.run(post_events(port, key, posted_at, range(args.incidents), rate=args.rate,
                                        concurrency=max(args.concurrency, 64) if args.rate else args.concurrency))
                posting = time.time() - begun
                deadline = time.time() + 60
                # Counted by tag: a warm-up SMS that arrives late must not stand in for a counted one.
                while arrived_tags(fake, posted_at) < args.incidents and time.time() < deadline:
                    time.sleep(0.05)
    return posting, split


async def post_events(port, key, posted_at, numbers, *, rate=0, concurrency=8):
    """Post one event per number over `concurrency` keep-alive connections (bench.ingest's raw
    HTTP/1.1 client: a thread pool of a full client library took more CPU than the stack could
    spare on two cores). With `rate`, open loop: event n is due `n / rate` seconds after the start
    and its time is counted from then, so a server that falls behind shows it; otherwise each
    connection posts the next event as soon as it has its answer."""
    from bench.ingest.__main__ import Connection

    idle = asyncio.Queue()
    for _ in range(concurrency):
        idle.put_nowait(Connection("127.0.0.1", port))
    begun = time.time()

    async def send(n):
        due = begun + n / rate if rate else None
        if due is not None:
            await asyncio.sleep(max(0.0, due - time.time()))
        connection = await idle.get()
        tag = f"bench-{n:06d}"
        started = due or time.time()
        body = json.dumps({"integrationKey": key, "eventType": "ALERT", "summary": f"{tag} latency probe",
                           "alertKey": tag})
        try:
            status, _, payload = await connection.post("/api/events", body)
        finally:
            idle.put_nowait(connection)
        if status != 202:
            raise RuntimeError(f"{status}: {payload[:200]!r}")
        posted_at[tag] = (started, time.time())

    await asyncio.gather(*(send(n) for n in numbers))
    while not idle.empty():
        idle.get_nowait().close()


def _tag(params):
    """The event's tag in an SMS text ("…: bench-000042 latency probe …")."""
    return params.get("Body", "").split(": ", 1)[-1][:12]


def arrived_tags(fake, posted_at):
    """How many of the counted events have an SMS (a duplicate counts once; the warm-up's events are
    not in `posted_at`)."""
    return len({_tag(params) for _, params in fake.arrivals} & posted_at.keys())


def measured_latencies(fake, posted_at):
    """([POST -> SMS request seconds], [POST -> answer seconds]) of the counted events (not the warm-up)."""
    latencies, answers = [], []
    for arrived, params in fake.arrivals:
        tag = _tag(params)
        if tag in posted_at:
            started, answered = posted_at[tag]
            latencies.append(arrived - started)
            answers.append(answered - started)
    return latencies, answers


def print_missing(tenant, fake, posted_at):
    """What became of the events whose SMS did not arrive within the wait: late or lost."""
    from collections import Counter

    from notifications.models import Notification

    missing = sorted(posted_at.keys() - {_tag(params) for _, params in fake.arrivals})
    pages = Counter(Notification.objects.filter(tenant=tenant, kind="page", incident__incident_key__in=missing)
                    .values_list("status", flat=True))
    print(f"  not arrived: {len(missing)} ({', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}); "
          f"their pages by status: {dict(pages) or 'none'}")


def print_figures(args, fake, stages, latencies, answers, posting):
    for name, values in stages.items():
        if values:
            print(f"  stage {name:18s} p50 {1000 * statistics.median(values):8.1f} ms   "
                  f"p99 {1000 * percentile(values, 99):8.1f} ms")
    ms = [x * 1000 for x in latencies]
    load = f"{args.rate:g} events/s offered" if args.rate else f"{args.concurrency} concurrent clients"
    print(f"bench/notify: {args.incidents} incidents, {load}, "
          f"{args.worker_processes} worker process(es) x {args.worker_threads} threads, {args.web_workers} web workers")
    print(f"  SMS received by the fake Twilio: {len(latencies)}/{args.incidents} "
          f"(duplicates: {len(fake.sms) - len(set(m['body'] for m in fake.sms))})")
    print(f"  Event API answer (202):   p50 {percentile(answers, 50) * 1000:7.1f} ms   "
          f"p99 {percentile(answers, 99) * 1000:7.1f} ms")
    print(f"  POST -> SMS request:      p50 {percentile(ms, 50):7.1f} ms   p99 {percentile(ms, 99):7.1f} ms   "
          f"max {max(ms):7.1f} ms   mean {statistics.mean(ms):7.1f} ms")
    print(f"  throughput: {args.incidents / posting:.0f} events/s posted; p99 target 1000 ms: "
          f"{'met' if percentile(ms, 99) < 1000 else 'MISSED'} (p99/target = {percentile(ms, 99) / 1000:.2f})")


if __name__ == "__main__":
    main()
