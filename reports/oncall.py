"""Time on call per user from the schedules (docs/reports.md, "People"), kept per local day.

Who is on call on a day depends only on the schedules' rules (zone, layers, their members and
restrictions) and the overrides and shifts that touch that day. Each day's figures are stored with
a digest of exactly those inputs (`OnCallDay`); a report recomputes only the days whose digest
changed (a new override: the days it touches; an edited layer: every day), so nothing has to
announce a change. Days are disjoint, so summing them counts an overlap of two schedules once,
as the live computation over the whole range does."""

import hashlib
from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, timedelta

from schedules import resolution
from schedules import selectors as schedule_selectors
from schedules.models import Schedule

from .models import OnCallDay
from .params import local_midnight


def _pk(user):
    return getattr(user, "pk", user)


def live_seconds(tenant, start, end, users):
    """{user id: seconds on call in [start, end)} over every schedule; overlaps count once."""
    plans = schedule_selectors.load_plans(list(Schedule.objects.filter(tenant=tenant)), start, end)
    per_user = _union(plans.values(), start, end)
    return {pk: _micros(sum((b - a for a, b in spans), timedelta())) / 10**6
            for pk, spans in per_user.items() if pk in users}


def _micros(delta):
    """Whole microseconds: sums of these are exact, so days add up to the range's figure."""
    return delta // timedelta(microseconds=1)


def _union(plans, start, end):
    """{user id: [(start, end)]}: each user's time on call in [start, end), overlaps merged."""
    spans = defaultdict(list)
    for plan in plans:
        for segment in resolution.timeline(plan, start, end):
            spans[segment.user.pk].append((segment.start, segment.end))
    merged = {}
    for pk, items in spans.items():
        items.sort()
        out = []
        for a, b in items:
            if out and a <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
        merged[pk] = out
    return merged


def _layer_print(plans):
    parts = []
    for pk in sorted(plans):
        plan = plans[pk]
        parts.append((pk, plan.tz.key, [(layer.id, layer.anchor.isoformat(), layer.step.total_seconds(),
                                         [_pk(u) for u in layer.users], layer.windows,
                                         layer.end.isoformat() if layer.end else None) for layer in plan.layers]))
    return repr(parts)


def _digests(plans, bounds):
    """One digest per day (bounds[i], bounds[i + 1]): the rules plus the overrides and shifts that
    touch that day, in their priority order."""
    touching = [defaultdict(list) for _ in range(len(bounds) - 1)]
    for pk, plan in plans.items():
        for kind, items in (("shift", plan.shifts), ("override", plan.overrides)):
            for a, b, user, item_id in items:  # in priority order: kept per day
                first = max(bisect_right(bounds, a) - 1, 0)
                last = min(bisect_right(bounds, b) - 1, len(bounds) - 2)
                for day in range(first, last + 1):
                    if a < bounds[day + 1] and b > bounds[day]:
                        touching[day][pk].append((kind, a.isoformat(), b.isoformat(), _pk(user), item_id))
    rules = _layer_print(plans)
    return [hashlib.sha1(f"{rules}|{sorted(items.items())!r}".encode(), usedforsecurity=False).hexdigest()
            for items in touching]


def seconds(tenant, tz, first, last, users):
    """{user id: seconds on call} from local day `first` to `last` in `tz`, as `live_seconds`."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    # In UTC: Python subtracts two datetimes of one zone object on the wall clock (a 23-hour day
    # would count 24).
    bounds = [local_midnight(day, tz).astimezone(UTC) for day in [*days, last + timedelta(days=1)]]
    plans = schedule_selectors.load_plans(list(Schedule.objects.filter(tenant=tenant)), bounds[0], bounds[-1])
    digests = _digests(plans, bounds)
    stored = {row.day: row for row in OnCallDay.objects.filter(tenant=tenant, zone=tz.key, day__gte=first,
                                                               day__lte=last)}
    totals = defaultdict(int)  # microseconds
    missing = []
    for i, day in enumerate(days):
        row = stored.get(day)
        if row is not None and row.digest == digests[i]:
            for pk, value in row.micros.items():
                totals[int(pk)] += value
        else:
            missing.append(i)
    fresh = []
    for run in _runs(missing):  # consecutive days in one timeline each
        by_day = _split_by_day(plans, bounds, run)
        for j, i in enumerate(run):
            values = {str(pk): value for pk, value in by_day[j].items()}
            fresh.append(OnCallDay(tenant=tenant, zone=tz.key, day=days[i], digest=digests[i], micros=values))
            for pk, value in values.items():
                totals[int(pk)] += value
    if fresh:
        OnCallDay.objects.bulk_create(fresh, update_conflicts=True, unique_fields=["tenant", "zone", "day"],
                                      update_fields=["digest", "micros"])
    return {pk: value / 10**6 for pk, value in totals.items() if pk in users}


def _split_by_day(plans, bounds, run):
    """[{user pk: microseconds on call}] for each day of `run` (consecutive day indexes into
    `bounds`), from one union of the plans over the whole run."""
    a, b = bounds[run[0]], bounds[run[-1] + 1]
    by_day = [defaultdict(int) for _ in run]
    for pk, spans in _union(plans.values(), a, b).items():
        for start, end in spans:
            j = max(bisect_right(bounds, start) - 1 - run[0], 0)
            while j < len(run) and bounds[run[j]] < end:
                lo, hi = max(start, bounds[run[j]]), min(end, bounds[run[j] + 1])
                if lo < hi:
                    by_day[j][pk] += _micros(hi - lo)
                j += 1
    return by_day


def _runs(indexes):
    runs = []
    for i in indexes:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs
