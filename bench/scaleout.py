"""bench/scaleout — the paging loop with 1, 2 and 4 Celery worker processes (and 1–2 web processes)
against the same PostgreSQL and Redis: throughput and lateness of each shape. Prints figures; not a test.

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python -m bench.scaleout [--rate 60] [--incidents 600] [--shapes 1x1,1x2,1x4,2x4]

A shape "WxN" is W gunicorn processes (4 threads each) and N worker processes (`celery worker
--pool=threads`, each with its ticker running the sweepers). For each shape the same open-loop load
is offered: `--incidents` Event API POSTs at `--rate` per second, each opening an incident whose
policy pages one user by SMS at once (the fake Twilio on 127.0.0.1 timestamps every SMS). Printed
per shape: SMS throughput while the load ran, lateness (POST → SMS request) p50/p99/max, and
lost/doubled pages. The database is `<name>_bench` next to DATABASE_URL's (bench.ingest's).
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from bench.ingest.__main__ import bench_database_url, ensure_database, setup_django, vacuum_all


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def make_pager():
    """A tenant whose Event API source pages one user by SMS at once, every incident (no bundling)."""
    from django.utils import timezone

    from alerts import services as alert_services
    from escalation import services as escalation_services
    from notifications.models import ContactMethod, NotificationRule
    from tests.factories import TenantFactory, UserFactory

    run = uuid.uuid4().hex[:8]
    tenant = TenantFactory(name=f"Bench scaleout {run}", slug=f"bench-scaleout-{run}")
    user = UserFactory(tenant=tenant, email=f"pager-{run}@bench.test", name="Bench Pager")
    method = ContactMethod.objects.create(tenant=tenant, user=user, kind="sms", address="+4915112345678",
                                          verified_at=timezone.now(), throttle_max=0, bundle_seconds=0)
    NotificationRule.objects.create(tenant=tenant, user=user, contact_method=method, priority="HIGH", delay_minutes=0)
    policy = escalation_services.create_policy(tenant, name="bench", levels=[{"users": [user], "timeout_minutes": 60}])
    return alert_services.create_alert_source(tenant, name="bench", escalation_policy=policy).integration_key


def offer(url, key, incidents, rate, fake, tag_prefix):
    """Open loop: `incidents` POSTs at `rate`/s; returns figures once every SMS came (or 60 s passed)."""
    import httpx

    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64))
    posted, lock, refused = {}, threading.Lock(), []

    def fire(n):
        tag = f"{tag_prefix}{n:05d}"
        delay = begun + n / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        started = time.time()
        response = client.post(url + "/api/events", json={"integrationKey": key, "eventType": "ALERT",
                                                          "summary": f"{tag} probe", "alertKey": tag})
        if response.status_code != 202:
            refused.append(response.status_code)
            return
        with lock:
            posted[tag] = started

    before = len(fake.arrivals)
    begun = time.time()
    with ThreadPoolExecutor(64) as pool:
        list(pool.map(fire, range(incidents)))
    deadline = time.time() + 60
    while len(fake.arrivals) - before < len(posted) and time.time() < deadline:
        time.sleep(0.05)
    client.close()
    lateness, seen, doubled = [], set(), 0
    for arrived, params in fake.arrivals[before:]:
        tag = params.get("Body", "").split(": ", 1)[-1].split(" ", 1)[0]
        if tag in posted:
            doubled += tag in seen
            seen.add(tag)
            lateness.append(arrived - posted[tag])
    last = max((arrived for arrived, _ in fake.arrivals[before:]), default=begun)
    return {"sent": len(seen), "posted": len(posted), "refused": len(refused), "doubled": doubled,
            "throughput": len(seen) / max(last - begun, 1e-9), "lateness": lateness}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=60, help="new incidents offered per second")
    parser.add_argument("--incidents", type=int, default=600)
    parser.add_argument("--shapes", default="1x1,1x2,1x4,2x4", help="WEBxWORKERS, comma-separated")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL: the workers share Redis as their broker.")
    url, name = bench_database_url()
    ensure_database(url, name)
    setup_django(url)
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from tests.e2e.stack import Stack
    from tests.notifications.fakes import FakeTwilio, FakeTwilioServer

    key = make_pager()
    sid, token = "AC" + "5ca1" * 8, "bench-token"
    fake = FakeTwilio(sid, token)
    tmp = tempfile.mkdtemp(prefix="bench-scaleout-")
    print(f"bench/scaleout: {args.incidents} new incidents at {args.rate:g}/s per shape, PostgreSQL database {name}, "
          f"{os.cpu_count()} CPUs; logs in {tmp}/stack.log")
    with FakeTwilioServer(fake) as server:
        env = {"TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token, "TWILIO_FROM_NUMBER": "+15005550006",
               "TWILIO_API_BASE_URL": server.url}
        for shape in args.shapes.split(","):
            web, workers = (int(part) for part in shape.split("x"))
            vacuum_all()  # each shape starts from clean tables where autovacuum is off
            with Stack(database_url=url, redis_url=os.environ["REDIS_URL"], env=env, tmp=tmp,
                       settings="bench.ingest.settings", worker_concurrency=8, web_workers=web,
                       worker_processes=workers) as stack:
                offer(stack.url, key, 5, 5, fake, f"warm{shape}-")  # waits for their SMS: the workers are up
                figures = offer(stack.url, key, args.incidents, args.rate, fake, f"s{shape}-")
            late = [x * 1000 for x in figures["lateness"]] or [float("nan")]
            print(f"  web {web} x workers {workers}: {figures['throughput']:6.1f} pages/s   lateness p50 "
                  f"{statistics.median(late):7.0f} ms   p99 {percentile(late, 99):7.0f} ms   max {max(late):7.0f} ms   "
                  f"sent {figures['sent']}/{figures['posted']} (refused {figures['refused']}, doubled "
                  f"{figures['doubled']})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
