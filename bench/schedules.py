"""Benchmark of on-call resolution. Prints milliseconds and the ratio to the targets.

1. One year of timeline for a schedule with 5 layers (all with restrictions) and 200 overrides,
   in Europe/Berlin (two DST changes). Target: under 50 ms.
2. `on_call` for 1,000 schedules at one instant. Target: under 200 ms.

Each figure is the median of several runs, measured twice: the pure engine on rules already in
memory, and through the selectors other apps call (database reads included).

    python bench/schedules.py                  # SQLite in memory (a throw-away test database)
    DATABASE_URL=postgres://… python bench/schedules.py   # a throw-away test_… database there
"""

import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings_test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

RUNS = 15


def median_ms(fn, runs=RUNS):
    fn()  # warm up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def report(label, figures, target):
    median, best = figures
    print(f"  {label:<58} {median:8.1f} ms  (best {best:6.1f})  {median / target:5.2f}× of the {target} ms target")


def build_year_schedule(tenant, users):
    from schedules import services
    from schedules.models import Override

    schedule = services.create_schedule(tenant, name="Bench year", timezone="Europe/Berlin")
    start = datetime(2025, 1, 6, 9, 0)
    layers = [
        ("Office weeks", users[:6], 1, "weeks",
         [{"type": "time_of_week", "start_day": "mon", "start": "09:00", "end_day": "fri", "end": "17:00"}]),
        ("Evenings", users[6:10], 1, "days", [{"type": "time_of_day", "start": "17:00", "end": "09:00"}]),
        ("Weekend halves", users[10:13], 12, "hours",
         [{"type": "time_of_week", "start_day": "fri", "start": "17:00", "end_day": "mon", "end": "09:00"}]),
        ("Lunch and dinner", users[13:18], 3, "days",
         [{"type": "time_of_day", "start": "12:00", "end": "13:00"},
          {"type": "time_of_day", "start": "18:00", "end": "20:00"}]),
        ("Deep nights", users[18:20], 1, "weeks", [{"type": "time_of_day", "start": "22:00", "end": "06:00"}]),
    ]
    for name, members, count, unit, restrictions in layers:
        services.create_layer(schedule, name=name, users=members, rotation_start=start, length_count=count,
                              length_unit=unit, restrictions=restrictions)
    rng = random.Random(5)
    year = datetime(2025, 1, 1, tzinfo=UTC)
    Override.objects.bulk_create([
        Override(tenant=tenant, schedule=schedule, user=rng.choice(users),
                 start=(s := year + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))),
                 end=s + timedelta(minutes=rng.randrange(60, 48 * 60)))
        for _ in range(200)
    ])
    return schedule


def build_many_schedules(tenant, users, count=1000):
    from schedules.models import Layer, LayerMember, Override, Schedule

    rng = random.Random(7)
    zones = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
    schedules = Schedule.objects.bulk_create([
        Schedule(tenant=tenant, name=f"Service {n:04d}", timezone=zones[n % len(zones)]) for n in range(count)
    ])
    layers = []
    for schedule in schedules:
        layers.append(Layer(tenant=tenant, schedule=schedule, name="Primary", position=0,
                            start_date=date(2024, 1, 1 + rng.randrange(0, 7)), handoff_time=datetime.min.time(),
                            length_count=1, length_unit="weeks"))
        layers.append(Layer(tenant=tenant, schedule=schedule, name="Nights", position=1,
                            start_date=date(2024, 1, 1), handoff_time=datetime.min.time().replace(hour=9),
                            length_count=1, length_unit="days",
                            restrictions=[{"type": "time_of_day", "start": "20:00", "end": "08:00"}]))
    layers = Layer.objects.bulk_create(layers)
    LayerMember.objects.bulk_create([
        LayerMember(layer=layer, user=user, position=index)
        for layer in layers for index, user in enumerate(rng.sample(users, 4))
    ])
    at = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
    Override.objects.bulk_create([
        Override(tenant=tenant, schedule=schedule, user=rng.choice(users),
                 start=(s := at - timedelta(hours=rng.randrange(1, 240))),
                 end=s + timedelta(hours=rng.randrange(1, 72)))
        for schedule in schedules for _ in range(2)
    ])
    return at


def main():
    from accounts.models import Tenant, User
    from schedules import resolution, selectors
    from schedules.models import Schedule

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        tenant = Tenant.objects.create(name="Bench", slug="bench", timezone="Europe/Berlin")
        users = [User.objects.create_user(f"bench{n}@example.com", None, tenant=tenant, name=f"User {n}")
                 for n in range(24)]

        print(f"database: {connection.vendor}")
        schedule = build_year_schedule(tenant, users)
        start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
        plan = selectors.plan_for(schedule, start, end)
        segments = resolution.timeline(plan, start, end)
        print(f"1. one year, 5 restricted layers, 200 overrides: {len(segments)} final segments")
        report("timeline, engine only (rules in memory)", median_ms(lambda: resolution.timeline(plan, start, end)), 50)
        report("selectors.timeline (database reads included)",
               median_ms(lambda: selectors.timeline(schedule, start, end)), 50)
        report("selectors.resolve (final + per-layer bands)",
               median_ms(lambda: selectors.resolve(schedule, start, end)), 50)

        at = build_many_schedules(tenant, users)
        many = Schedule.objects.filter(tenant=tenant).exclude(pk=schedule.pk)
        items = list(many)
        plans = selectors.load_plans(items, at, at + resolution.TICK)
        found = selectors.on_call_many(many, at)
        gaps = sum(1 for segment in found.values() if segment is None)
        print(f"2. on_call for {len(items)} schedules at one instant ({len(items) - gaps} with someone on call)")
        report("on_call, engine only (rules in memory)",
               median_ms(lambda: [resolution.on_call(p, at) for p in plans.values()]), 200)
        report("selectors.on_call_many (one batch, database reads included)",
               median_ms(lambda: selectors.on_call_many(many, at)), 200)
        report("selectors.on_call one schedule at a time (≈5 queries each)",
               median_ms(lambda: [selectors.on_call(s, at) for s in items], runs=3), 200)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
