"""bench/faults/slow_provider: pages through a slow Twilio, with one recipient whose number hangs.

Real processes: two Celery worker processes (threads; the first also runs beat, sweeping every
second) on PostgreSQL and Redis, and a fake Twilio HTTP server on 127.0.0.1 driven by the real
twilio library. The fake answers every request in --answer seconds (default 7, no timeouts at all);
creates to the hanging number take --hang seconds (default 15, longer than the 10 s client timeout;
Twilio then creates the message anyway, as a real slow provider may).

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert_bench REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/faults/slow_provider.py [--incidents 12]

Each incident pages two users at once (one escalation level): the healthy user and the user whose
number hangs, each by SMS with bundling and throttling off (every incident is one SMS each). The
incidents are opened through the ingest service in a burst, as an alert storm would.

Prints: SMS per recipient at the fake, duplicate pages (the same text to the same number more than
once: must be 0), the lateness of the healthy user's pages (from the page's due time to its request
reaching Twilio), and how the hanging user's pages ended. Exit status 1 when a page went out twice.
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret")

HEALTHY, HANGING = "+4915100000001", "+4915100000002"
SID, TOKEN, FROM = "AC" + "51e0" * 8, "bench-token", "+15005550006"


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

    tenant, source = set_up()
    fake, arrivals = slow_twilio(args)
    run_pages(args, tenant, source, fake, arrivals)
    figures = tally(tenant, arrivals)
    Tenant.objects.filter(pk=tenant.pk).delete()
    print_figures(args, figures)
    sys.exit(1 if figures["duplicates"] else 0)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=12)
    parser.add_argument("--answer", type=float, default=7.0, help="seconds Twilio takes to answer any request")
    parser.add_argument("--hang", type=float, default=15.0, help="seconds a create to the hanging number takes")
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument("--settle", type=float, default=240, help="give up waiting after this many seconds")
    return parser.parse_args()


def set_up():
    """Migrate; make the tenant, its two users paged by SMS at one level, and the alert source.
    Returns (tenant, source)."""
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import Tenant
    from alerts import services as alert_services
    from escalation import services as escalation_services
    from notifications.models import ContactMethod, NotificationRule
    from tests.factories import TenantFactory, UserFactory

    call_command("migrate", interactive=False, verbosity=0)
    Tenant.objects.filter(slug="bench-slow-provider").delete()
    tenant = TenantFactory(name="Bench slow provider", slug="bench-slow-provider")
    stamp = int(time.time())
    users = {}
    for number, name in ((HEALTHY, "Healthy"), (HANGING, "Hanging")):
        user = UserFactory(tenant=tenant, name=name, email=f"{name.lower()}-{stamp}@bench.test")
        method = ContactMethod.objects.create(tenant=tenant, user=user, kind="sms", address=number,
                                              verified_at=timezone.now(), throttle_max=0, bundle_seconds=0)
        NotificationRule.objects.create(tenant=tenant, user=user, contact_method=method, priority="HIGH",
                                        delay_minutes=0)
        users[number] = user
    policy = escalation_services.create_policy(
        tenant, name="bench", levels=[{"users": list(users.values()), "timeout_minutes": 60}])
    source = alert_services.create_alert_source(tenant, name="bench", escalation_policy=policy)
    return tenant, source


def slow_twilio(args):
    """The fake Twilio, slowed down; returns (fake, arrivals), arrivals being the
    [(time, To, Body)] of every create it receives."""
    from tests.notifications.fakes import FakeTwilio

    fake = FakeTwilio(SID, TOKEN)
    arrivals, lock = [], threading.Lock()

    def slow(method, kind, params):
        if method == "POST":
            with lock:
                arrivals.append((time.time(), params.get("To"), params.get("Body")))
            time.sleep(args.hang if params.get("To") == HANGING else args.answer)
        else:
            time.sleep(args.answer)

    fake.before.append(slow)
    return fake, arrivals


def run_pages(args, tenant, source, fake, arrivals):
    """Start the fake's server and the two workers, open the incidents in a burst, and wait
    for the pages to settle."""
    from alerts import services as alert_services
    from alerts.ingest import InboundEvent
    from tests.e2e.workers import Worker, purge_broker, wait_for
    from tests.notifications.fakes import FakeTwilioServer

    purge_broker()
    tmp = Path(tempfile.mkdtemp(prefix="bench-slow-provider-"))
    print(f"logs: {tmp}")
    with FakeTwilioServer(fake) as server:
        env = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": FROM,
               "TWILIO_API_BASE_URL": server.url, "DATABASE_URL": os.environ["DATABASE_URL"], "LOG_LEVEL": "WARNING",
               "NOTIFICATION_PROVIDER_TIMEOUT_SECONDS": "10"}
        workers = [Worker(tmp, "w1", beat=True, concurrency=args.worker_threads, **env).start(),
                   Worker(tmp, "w2", beat=False, concurrency=args.worker_threads, **env).start()]
        try:
            wait_for(lambda: all(" ready." in w.output() for w in workers), timeout=120, message="workers ready")
            began = time.time()
            for n in range(args.incidents):
                alert_services.ingest(source, InboundEvent("ALERT", summary=f"slow-{n:03d} disk full",
                                                           incident_key=f"slow-{n}"))
            print(f"{args.incidents} incidents opened in {time.time() - began:.1f} s; waiting for the pages")
            wait_settled(args, tenant, arrivals)
        finally:
            for worker in workers:
                worker.stop()


def wait_settled(args, tenant, arrivals):
    from django.db import connection

    from notifications.models import Notification

    rows = Notification.objects.filter(tenant=tenant, kind="page")
    deadline, quiet_since, seen = time.time() + args.settle, time.time(), 0
    while time.time() < deadline:
        pending = rows.exclude(status__in=Notification.DONE).count()
        connection.close()
        if len(arrivals) != seen:
            seen, quiet_since = len(arrivals), time.time()
        # Done when every page is settled and Twilio heard nothing new for a while (a
        # duplicate would come late: after the sweeper has taken a row back).
        if rows.count() == 2 * args.incidents and pending == 0 and time.time() - quiet_since > 20:
            break
        time.sleep(0.5)


def tally(tenant, arrivals):
    """The figures, read before the tenant goes: SMS per (To, Body) at the fake, duplicates, the
    healthy user's lateness, the pages' statuses per user, and the recorded delivery attempts."""
    from notifications.models import Notification

    pages = {(row.address, row.sent_text): row for row in Notification.objects.filter(tenant=tenant, kind="page")}
    sent_to = Counter((to, body) for _at, to, body in arrivals)
    first = {}
    for at, to, body in sorted(arrivals):
        first.setdefault((to, body), at)
    calls, errors = delivery_attempts(tenant)
    return {
        "sent_to": sent_to,
        "duplicates": sum(count - 1 for count in sent_to.values()),
        "lateness": [first[key] - row.due_at.timestamp() for key, row in pages.items()
                     if key[0] == HEALTHY and key in first],
        "hanging": Counter(row.status for (to, _), row in pages.items() if to == HANGING),
        "healthy": Counter(row.status for (to, _), row in pages.items() if to == HEALTHY),
        "calls": calls,
        "errors": errors,
    }


def delivery_attempts(tenant):
    """(Counter of "kind result", Counter of error heads), or (None, None) before DeliveryAttempt existed."""
    try:
        from notifications.models import DeliveryAttempt
    except ImportError:
        return None, None
    recorded = DeliveryAttempt.objects.filter(tenant=tenant)
    calls = Counter(f"{kind} {result}" for kind, result in recorded.values_list("kind", "result"))
    errors = Counter(error.split(";")[0][:100]
                     for error in recorded.exclude(error="").values_list("error", flat=True))
    return calls, errors


def print_figures(args, figures):
    from django.conf import settings

    sent_to, duplicates, lateness = figures["sent_to"], figures["duplicates"], figures["lateness"]
    print(f"bench/faults/slow_provider: {args.incidents} incidents, each paging 2 users by SMS; Twilio answers in "
          f"{args.answer:g} s, creates to one number take {args.hang:g} s (client timeout 10 s); "
          f"2 worker processes x {args.worker_threads} threads, "
          f"{getattr(settings, 'NOTIFICATION_SEND_CONCURRENCY', 'no')} sender threads each")
    print(f"  SMS requests at Twilio: healthy {sum(c for (to, _), c in sent_to.items() if to == HEALTHY)}, "
          f"hanging {sum(c for (to, _), c in sent_to.items() if to == HANGING)} "
          f"(pages: {args.incidents} each)")
    print(f"  duplicate pages: {duplicates}" + ("" if duplicates == 0 else "   <-- MUST BE 0"))
    if lateness:
        print(f"  healthy user's pages, due -> request at Twilio: p50 {statistics.median(lateness):.2f} s   "
              f"max {max(lateness):.2f} s   ({len(lateness)}/{args.incidents} sent; Twilio then takes "
              f"{args.answer:g} s to answer)")
    print(f"  healthy pages: {dict(figures['healthy'])}; hanging user's pages: {dict(figures['hanging'])}")
    if figures["calls"] is not None:
        print(f"  provider calls recorded as delivery attempts: {dict(figures['calls'])}")
        for error, count in figures["errors"].most_common(5):
            print(f"    {count} x {error}")


if __name__ == "__main__":
    main()
