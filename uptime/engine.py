"""Running the checks (docs/architecture.md §4): claim due monitors from the database, check them
concurrently with bounded parallelism and strict timeouts, record each result as it arrives.

- **Claim.** `claim_due` locks due rows with select_for_update(skip_locked=True), moves each one's
  `next_check_at` one interval ahead (the lease) and bumps its `claim_seq`, then commits. Another
  worker no longer sees it as due; a worker that dies mid-check leaves it due again one interval
  later; the result of a stale claim is discarded (services.record_checks compares `claim_seq`).
- **Check.** The calling thread does all database work; network checks run on an asyncio loop in
  a helper thread, at most `concurrency` at once, each cut off at its timeout (+1 s), so one slow
  target never delays the others.
- **Loop.** `run(budget=…)` keeps claiming what becomes due until the budget is spent (the Celery
  sweeper calls it every SWEEP_INTERVAL_SECONDS); `run()` checks what is due now and returns.
"""

import asyncio
import logging
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Min

from ilert import bulk, clock

from . import checks, services, stats
from .checks.base import CheckSpec, Result
from .models import CheckResult, CheckRollup, UptimeMonitor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    monitor_id: int
    seq: int
    due_at: object
    spec: CheckSpec


def backlog(now):
    """(monitors due for a check now, the oldest due time): read at scrape time (ilert/exposition.py)
    through the partial index uptime_monitor_due. A claimed monitor's due time is a lease ahead."""
    due = UptimeMonitor.objects.filter(paused=False, next_check_at__lte=now).order_by().aggregate(
        rows=Count("id"), oldest=Min("next_check_at"))
    return due["rows"], due["oldest"]


def claim_due(*, limit=100, now=None, monitor_id=None):
    """Claim up to `limit` due monitors (oldest due first)."""
    now = now or clock.now()
    with transaction.atomic():
        queryset = UptimeMonitor.objects.select_for_update(skip_locked=True).filter(
            paused=False, next_check_at__lte=now
        )
        if monitor_id is not None:
            queryset = queryset.filter(pk=monitor_id)
        monitors = list(queryset.order_by("next_check_at")[:limit])
        claims = []
        for monitor in monitors:
            due_at = monitor.next_check_at
            monitor.claim_seq += 1
            monitor.next_check_at = now + timedelta(seconds=monitor.interval_seconds)
            claims.append(Claim(monitor.pk, monitor.claim_seq, due_at, CheckSpec.of(monitor)))
        if monitors:
            bulk.update(UptimeMonitor, monitors, ["claim_seq", "next_check_at"])
    return claims


class CheckLoop:
    """An asyncio loop in a helper thread that runs checks, at most `concurrency` at once."""

    def __init__(self, concurrency):
        self.concurrency = concurrency
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="uptime-checks", daemon=True)
        self.semaphore = None

    def __enter__(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._setup(), self.loop).result()
        return self

    async def _setup(self):
        self.semaphore = asyncio.Semaphore(self.concurrency)
        self.loop.set_default_executor(futures.ThreadPoolExecutor(max_workers=min(32, self.concurrency),
                                                                  thread_name_prefix="uptime-resolve"))

    def submit(self, spec):
        """A concurrent.futures.Future of (started_at, Result)."""
        return asyncio.run_coroutine_threadsafe(self._guarded(spec), self.loop)

    async def _guarded(self, spec):
        async with self.semaphore:
            started_at = clock.now()
            try:
                result = await asyncio.wait_for(checks.run(spec), spec.timeout + 1)
            except TimeoutError:
                result = checks.base.down(f"No answer from {spec.target} within {spec.timeout:g} s")
            except Exception as exc:  # a bug in a check must not look like an outage, nor stop the loop
                log.exception("uptime check of %s crashed", spec.target)
                result = checks.base.unavailable(f"The check failed inside ilert ({type(exc).__name__}).")
            return started_at, result

    def __exit__(self, *exc_info):
        async def _drain():
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_default_executor()

        asyncio.run_coroutine_threadsafe(_drain(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def _record(done):
    """Record finished checks ({future: claim}) in one batch; one by one if the batch fails, so a
    monitor whose recording keeps failing (logged) cannot stall the others: it comes back after its
    lease."""
    items = []
    for future, claim in done.items():
        try:
            started_at, result = future.result()
        except Exception as exc:  # noqa: BLE001 - cancelled or crashed: the lease brings it back
            log.warning("uptime check of monitor %s did not finish: %r", claim.monitor_id, exc)
            continue
        items.append(services.Checked(claim.monitor_id, claim.seq, result, started_at, claim.due_at))
    if not items:
        return 0
    try:
        return sum(m is not None for m in services.record_checks(items))
    except Exception:
        if len(items) == 1:
            log.exception("recording the check of monitor %s failed", items[0].monitor_id)
            return 0
    recorded = 0
    for item in items:
        try:
            recorded += services.record_checks([item])[0] is not None
        except Exception:
            log.exception("recording the check of monitor %s failed", item.monitor_id)
    return recorded


def run(*, budget=None, monitor_id=None, concurrency=None, poll=0.1, stop=None):
    """Claim and check due monitors. With `budget` (seconds), keep claiming newly due ones until it is
    spent, then finish what is in flight; without, check what is due now and return. Returns the
    number of results recorded.

    The database work is batched: results that finish within ~10 ms of each other are recorded in
    one transaction, and free slots are claimed in chunks (a quarter of the concurrency) unless the
    last claim is more than `poll` old, so a busy loop costs few round trips per check."""
    concurrency = concurrency or settings.UPTIME_CONCURRENCY
    chunk = max(1, concurrency // 4)
    deadline = None if budget is None else time.monotonic() + budget
    recorded = 0
    inflight = {}
    last_claim = 0.0
    with CheckLoop(concurrency) as checker:
        while True:
            claiming = (deadline is None or time.monotonic() < deadline) and not (stop and stop())
            free = concurrency - len(inflight)
            if claiming and free > 0 and (free >= chunk or time.monotonic() - last_claim >= poll):
                claims = claim_due(limit=free, monitor_id=monitor_id)
                last_claim = time.monotonic()
                for claim in claims:
                    inflight[checker.submit(claim.spec)] = claim
                if deadline is None and not claims and not inflight:
                    break
            if not inflight:
                if not claiming:
                    break
                time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
                continue
            recorded += _record(_finished(inflight, poll))
    return recorded


def _finished(inflight, poll):
    """Take out of `inflight` ({future: claim}) the checks that finish within `poll`, together with
    those finishing right after the first (one batch, one transaction)."""
    done, _ = futures.wait(inflight, timeout=poll, return_when=futures.FIRST_COMPLETED)
    if not done:
        return {}
    if len(inflight) > len(done):
        time.sleep(0.01)  # let the results finishing right now join this batch
    return {future: inflight.pop(future) for future in [f for f in inflight if f.done()]}


def check_one(monitor_id):
    """Check one monitor now if it is due (the "check now" kick); a no-op otherwise."""
    return run(monitor_id=monitor_id, concurrency=1)


# --- bounded history: roll-ups and pruning ----------------------------------------------------

ROLLUP_GRACE = timedelta(minutes=2)  # an hour is rolled up once no check of it can still be recording


def roll_up(*, now=None, max_steps=500):
    """Roll up every closed hour (and then every closed day) not rolled up yet, for all monitors,
    oldest first. Idempotent and safe to run concurrently (roll-ups are unique per monitor, period and
    start; watermarks move by compare-and-set). Returns the number of (monitor-group, period) steps done."""
    now = now or clock.now()
    closed_hour = stats.floor_hour(now - ROLLUP_GRACE)
    steps = 0
    while steps < max_steps and _roll_up_hour(closed_hour):
        steps += 1
    while steps < max_steps and _roll_up_day():
        steps += 1
    return steps


def _roll_up_hour(closed_hour):
    with transaction.atomic():
        oldest = (UptimeMonitor.objects.filter(rolled_until__lt=closed_hour)
                  .order_by("rolled_until").values_list("rolled_until", flat=True).first())
        if oldest is None:
            return False
        # No row locks (the engine records checks on these rows): two maintainers compute the same
        # roll-ups, the unique constraint keeps one, the watermark moves by compare-and-set.
        monitors = list(UptimeMonitor.objects.filter(rolled_until=oldest).only("id", "tenant_id")[:500])
        if not monitors:
            return False
        end = oldest + timedelta(hours=1)
        by_monitor = {m.pk: stats.Aggregate() for m in monitors}
        rows = CheckResult.objects.filter(monitor_id__in=by_monitor, checked_at__gte=oldest, checked_at__lt=end)
        for monitor_id, outcome, response_ms, weight in rows.values_list(
                "monitor_id", "outcome", "response_ms", "weight_seconds").iterator(chunk_size=5000):
            by_monitor[monitor_id].add_result(outcome, response_ms, weight)
        CheckRollup.objects.bulk_create([
            CheckRollup(tenant_id=m.tenant_id, monitor_id=m.pk, period=CheckRollup.Period.HOUR, start=oldest,
                        **by_monitor[m.pk].rollup_fields())
            for m in monitors if by_monitor[m.pk].checks
        ], ignore_conflicts=True)
        UptimeMonitor.objects.filter(pk__in=[m.pk for m in monitors], rolled_until=oldest).update(rolled_until=end)
    return True


def _roll_up_day():
    with transaction.atomic():
        candidates = (UptimeMonitor.objects.filter(daily_rolled_until__lte=F("rolled_until") - timedelta(days=1))
                      .order_by("daily_rolled_until").values_list("daily_rolled_until", flat=True))
        day = candidates.first()
        if day is None:
            return False
        end = day + timedelta(days=1)
        monitors = list(UptimeMonitor.objects.filter(daily_rolled_until=day, rolled_until__gte=end)
                        .only("id", "tenant_id")[:500])
        if not monitors:
            return False
        by_monitor = {m.pk: stats.Aggregate() for m in monitors}
        for rollup in CheckRollup.objects.filter(monitor_id__in=by_monitor, period=CheckRollup.Period.HOUR,
                                                 start__gte=day, start__lt=end):
            by_monitor[rollup.monitor_id].add_rollup(rollup)
        CheckRollup.objects.bulk_create([
            CheckRollup(tenant_id=m.tenant_id, monitor_id=m.pk, period=CheckRollup.Period.DAY, start=day,
                        **by_monitor[m.pk].rollup_fields())
            for m in monitors if by_monitor[m.pk].checks
        ], ignore_conflicts=True)
        UptimeMonitor.objects.filter(pk__in=[m.pk for m in monitors], daily_rolled_until=day).update(
            daily_rolled_until=end)
    return True


def prune(*, now=None, batch=10_000, max_batches=100):
    """Delete raw results older than UPTIME_RAW_RETENTION_DAYS (only what is rolled up), hourly
    roll-ups older than UPTIME_HOURLY_RETENTION_DAYS (only what is in daily ones) and daily roll-ups
    older than UPTIME_DAILY_RETENTION_DAYS. Returns the number of rows deleted."""
    now = now or clock.now()
    marks = UptimeMonitor.objects.aggregate(hourly=Min("rolled_until"), daily=Min("daily_rolled_until"))
    raw_cut = now - timedelta(days=settings.UPTIME_RAW_RETENTION_DAYS)
    hourly_cut = now - timedelta(days=settings.UPTIME_HOURLY_RETENTION_DAYS)
    if marks["hourly"] is not None:
        raw_cut = min(raw_cut, marks["hourly"])
    if marks["daily"] is not None:
        hourly_cut = min(hourly_cut, marks["daily"])
    daily_cut = now - timedelta(days=settings.UPTIME_DAILY_RETENTION_DAYS)
    deleted = 0
    for queryset in (
        CheckResult.objects.filter(checked_at__lt=raw_cut),
        CheckRollup.objects.filter(period=CheckRollup.Period.HOUR, start__lt=hourly_cut),
        CheckRollup.objects.filter(period=CheckRollup.Period.DAY, start__lt=daily_cut),
    ):
        for _ in range(max_batches):
            ids = list(queryset.order_by().values_list("pk", flat=True)[:batch])
            if not ids:
                break
            deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]
    return deleted


def maintain(now=None):
    """The periodic housekeeping: roll up, then prune."""
    return {"rolled_up": roll_up(now=now), "pruned": prune(now=now)}


__all__ = ["Claim", "CheckLoop", "Result", "check_one", "claim_due", "maintain", "prune", "roll_up", "run"]
