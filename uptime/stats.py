"""Uptime and response-time figures from raw results and roll-ups.

History is bounded: raw results are kept for UPTIME_RAW_RETENTION_DAYS; every closed hour is rolled
up per monitor (counts, response-time sum, max and a logarithmic histogram), and every closed day is
rolled up from its hours. A figure over a window reads daily roll-ups for whole days, hourly ones
for whole hours after that, and raw results for the rest, so it costs a few hundred rows at most.

Percentiles from roll-ups come from the histogram (buckets 10% apart, interpolated within the
bucket), so a p95 over days is within a few percent of the exact value.
"""

import bisect
import math
from dataclasses import dataclass, field
from datetime import timedelta

from alerts.models import Incident
from ilert import clock

from .models import CheckResult, CheckRollup, Outcome

# Upper bounds (ms) of the histogram buckets: 1 ms … ~2 min, 10% apart.
BUCKETS = [round(1.1 ** i) for i in range(0, 125)]
BUCKETS = sorted(set(BUCKETS))


def bucket_of(ms):
    return min(bisect.bisect_left(BUCKETS, ms), len(BUCKETS) - 1)


def floor_hour(at):
    return at.replace(minute=0, second=0, microsecond=0)


def floor_day(at):
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Aggregate:
    checks: int = 0
    up: int = 0
    down: int = 0
    unavailable: int = 0
    response_count: int = 0
    response_sum_ms: int = 0
    response_max_ms: int = 0
    histogram: dict = field(default_factory=dict)  # bucket index (str, as stored in JSON) -> count
    up_seconds: int = 0
    down_seconds: int = 0

    def add_result(self, outcome, response_ms, weight_seconds):
        self.checks += 1
        if outcome == Outcome.UP:
            self.up += 1
            self.up_seconds += weight_seconds
        elif outcome == Outcome.DOWN:
            self.down += 1
            self.down_seconds += weight_seconds
        else:
            self.unavailable += 1
        if response_ms is not None:
            self.response_count += 1
            self.response_sum_ms += response_ms
            self.response_max_ms = max(self.response_max_ms, response_ms)
            key = str(bucket_of(response_ms))
            self.histogram[key] = self.histogram.get(key, 0) + 1

    def add_rollup(self, rollup):
        self.checks += rollup.checks
        self.up += rollup.up
        self.down += rollup.down
        self.unavailable += rollup.unavailable
        self.response_count += rollup.response_count
        self.response_sum_ms += rollup.response_sum_ms
        self.response_max_ms = max(self.response_max_ms, rollup.response_max_ms)
        self.up_seconds += rollup.up_seconds
        self.down_seconds += rollup.down_seconds
        for key, count in (rollup.histogram or {}).items():
            self.histogram[key] = self.histogram.get(key, 0) + count

    def rollup_fields(self):
        return {
            "checks": self.checks, "up": self.up, "down": self.down, "unavailable": self.unavailable,
            "response_count": self.response_count, "response_sum_ms": self.response_sum_ms,
            "response_max_ms": self.response_max_ms, "histogram": self.histogram,
            "up_seconds": self.up_seconds, "down_seconds": self.down_seconds,
        }

    @property
    def uptime(self):
        """Percentage of time up, of the time judged up or down: each check counts for the time until
        the next one was due (checks ilert could not run do not count). Results recorded before
        checks had a weight count one each."""
        judged = self.up_seconds + self.down_seconds
        if judged:
            return round(100.0 * self.up_seconds / judged, 3)
        judged = self.up + self.down
        return None if not judged else round(100.0 * self.up / judged, 3)

    @property
    def avg_ms(self):
        return None if not self.response_count else round(self.response_sum_ms / self.response_count)

    def percentile(self, p):
        if not self.response_count:
            return None
        rank = p / 100.0 * self.response_count
        seen = 0
        for index in sorted(int(k) for k in self.histogram):
            count = self.histogram[str(index)]
            if seen + count >= rank:
                low = BUCKETS[index - 1] if index else 0
                high = BUCKETS[index]
                value = low + (high - low) * ((rank - seen) / count if count else 1)
                return min(round(value), self.response_max_ms)
            seen += count
        return self.response_max_ms


def aggregate(monitor, start, end):
    """Everything checked in [start, end): daily roll-ups for whole days (when `start` is a day
    boundary), hourly ones for whole hours, raw results for the rest."""
    agg = Aggregate()
    cursor = start
    if cursor == floor_day(cursor):
        until = min(floor_day(end), monitor.daily_rolled_until)
        if until > cursor:
            for rollup in CheckRollup.objects.filter(monitor=monitor, period="day", start__gte=cursor,
                                                     start__lt=until):
                agg.add_rollup(rollup)
            cursor = until
    if cursor == floor_hour(cursor):
        until = min(floor_hour(end), monitor.rolled_until)
        if until > cursor:
            for rollup in CheckRollup.objects.filter(monitor=monitor, period="hour", start__gte=cursor,
                                                     start__lt=until):
                agg.add_rollup(rollup)
            cursor = until
    if cursor < end:
        raw = CheckResult.objects.filter(monitor=monitor, checked_at__gte=cursor, checked_at__lt=end)
        for outcome, response_ms, weight in raw.values_list("outcome", "response_ms", "weight_seconds"):
            agg.add_result(outcome, response_ms, weight)
    return agg


WINDOWS = [("24h", "hours", 24), ("7d", "days", 7), ("30d", "days", 30), ("90d", "days", 90)]


def window_start(kind, count, now):
    """24 h: the last 24 whole hours (including the current one); N days: N calendar days (UTC),
    including today."""
    if kind == "hours":
        return floor_hour(now) - timedelta(hours=count - 1)
    return floor_day(now) - timedelta(days=count - 1)


def incidents(monitor):
    if monitor.alert_source_id is None:
        return Incident.objects.none()
    return Incident.objects.filter(alert_source_id=monitor.alert_source_id, incident_key=monitor.incident_key)


def figures(monitor, now=None):
    """{"24h": {...}, "7d": …, "30d": …, "90d": …}: uptime %, checks, average and p95 response time
    and incidents opened, per window."""
    now = now or clock.now()
    out = {}
    end = now + timedelta(microseconds=1)
    for name, kind, count in WINDOWS:
        start = window_start(kind, count, now)
        agg = aggregate(monitor, start, end)
        out[name] = {
            "since": start, "uptime_percent": agg.uptime, "checks": agg.checks, "up": agg.up, "down": agg.down,
            "avg_response_ms": agg.avg_ms, "p95_response_ms": agg.percentile(95),
            "max_response_ms": agg.response_max_ms if agg.response_count else None,
            "incidents": incidents(monitor).filter(created_at__gte=start, created_at__lte=now).count(),
        }
    return out


def daily_uptime(monitor, days=90, now=None):
    """[(day, Aggregate or None)] for the last `days` UTC days, oldest first (the daily roll-ups are
    UTC days; the bar says so, see charts.py)."""
    now = now or clock.now()
    today = floor_day(now)
    first = today - timedelta(days=days - 1)
    stored = {r.start: r for r in CheckRollup.objects.filter(monitor=monitor, period="day", start__gte=first)}
    out = []
    for i in range(days):
        day = first + timedelta(days=i)
        if day in stored:
            agg = Aggregate()
            agg.add_rollup(stored[day])
        elif day >= monitor.daily_rolled_until:
            agg = aggregate(monitor, day, min(day + timedelta(days=1), now + timedelta(microseconds=1)))
        else:
            agg = None
        out.append((day, agg if agg is not None and agg.checks else None))
    return out


def response_series(monitor, hours=24, now=None, points=288):
    """[(start, avg ms or None, down checks)] in `points` equal slots over the last `hours`, from raw
    results (the raw window is at least a day)."""
    now = now or clock.now()
    start = now - timedelta(hours=hours)
    slot = (now - start) / points
    sums = [0] * points
    counts = [0] * points
    downs = [0] * points
    rows = CheckResult.objects.filter(monitor=monitor, checked_at__gte=start, checked_at__lte=now)
    for at, outcome, ms in rows.values_list("checked_at", "outcome", "response_ms"):
        index = min(points - 1, max(0, math.floor((at - start) / slot)))
        if outcome == Outcome.DOWN:
            downs[index] += 1
        elif ms is not None:
            sums[index] += ms
            counts[index] += 1
    return [
        (start + slot * i, (sums[i] / counts[i]) if counts[i] else None, downs[i]) for i in range(points)
    ]
