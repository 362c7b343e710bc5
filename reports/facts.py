"""Per-incident facts and the sums built from them (docs/reports.md).

One function computes the facts of incidents from the other apps' tables (`compute`); the live
query, the incremental roll-ups and the rebuild all go through it, and all add facts up with the
same `Totals`, so the three give the same numbers."""

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass, fields
from datetime import timedelta

from alerts.models import Incident, IncidentLogEntry, LogKind

QUICK_SECONDS = 300
FLAP_WINDOW = timedelta(hours=1)
# Histogram buckets: (up to this many seconds, buckets this wide). Round durations (5 min, 30 min,
# 2 h) are bucket edges, so they come out exactly.
LADDER = ((60, 1), (300, 5), (900, 15), (3600, 60), (4 * 3600, 300), (86400, 900), (7 * 86400, 3600))
_STARTS = []  # (first index, first second, width) per rung
_index, _second = 0, 0
for _limit, _width in LADDER:
    _STARTS.append((_index, _second, _width))
    _index += (_limit - _second) // _width
    _second = _limit
_STARTS.append((_index, _second, 86400))


def bucket(seconds):
    """Histogram bucket of a duration in seconds (LADDER)."""
    seconds = max(0, int(seconds))
    for first_index, first_second, width in reversed(_STARTS):
        if seconds >= first_second:
            return first_index + (seconds - first_second) // width
    return 0


def lower_edge(index):
    for first_index, first_second, width in reversed(_STARTS):
        if index >= first_index:
            return first_second + (index - first_index) * width
    return 0


@dataclass(slots=True)
class Fact:
    incident_id: int
    tenant_id: int
    created_at: object
    source_id: int
    policy_id: int | None
    assignee_id: int | None
    priority: str
    incident_key: str
    ack_seconds: int | None
    resolve_seconds: int | None
    maintenance: bool
    auto_resolved: bool
    quick: bool
    flapping: bool
    events: int
    acceptor_id: int | None
    accept_via: str

    def values(self):
        return tuple(getattr(self, f.name) for f in fields(self))

    @property
    def noise(self):
        return self.auto_resolved or self.quick

    def dims(self):
        """The roll-up rows this incident counts in: (dim, value)."""
        yield "all", ""
        yield "source", str(self.source_id)
        yield "policy", "" if self.policy_id is None else str(self.policy_id)
        yield "assignee", "" if self.assignee_id is None else str(self.assignee_id)
        yield "priority", self.priority
        if not self.maintenance:
            yield "key", key_value(self.source_id, self.incident_key)
            if self.ack_seconds is not None:  # who answered, and through which channel
                yield "acceptor", "" if self.acceptor_id is None else str(self.acceptor_id)
                yield "via", self.accept_via[:300]


FACT_FIELDS = [f.name for f in fields(Fact)]


def key_value(source_id, incident_key):
    return f"{source_id}:{incident_key}"[:300]


def _seconds(start, end):
    return None if end is None else max(0, int((end - start).total_seconds()))


def compute(incidents):
    """Facts of the incidents of a queryset: the incidents, their first acceptances and the
    resolutions that make them flap, in three queries (no per-incident subqueries: a hot incident
    key may have hundreds of thousands of incidents)."""
    rows = list(incidents.order_by().values_list(
        "pk", "tenant_id", "created_at", "alert_source_id", "escalation_policy_id", "assigned_to_id", "priority",
        "incident_key", "resolved_at", "resolved_by_id", "in_maintenance", "event_count"))
    if not rows:
        return
    first = {}
    accepts = (IncidentLogEntry.objects.filter(kind=LogKind.ACCEPTED, incident__in=incidents.order_by().values("pk"))
               .order_by("incident_id", "at", "id").values_list("incident_id", "at", "actor_id", "via"))
    for incident_id, at, actor_id, via in accepts.iterator(chunk_size=10000):
        first.setdefault(incident_id, (at, actor_id, via))
    flaps = _resolutions(rows)
    for (pk, tenant_id, created, source_id, policy_id, assignee_id, priority, key, resolved, resolver,
         maintenance, events) in rows:
        accepted, acceptor, via = first.get(pk, (None, None, ""))
        ack, res = _seconds(created, accepted), _seconds(created, resolved)
        yield Fact(pk, tenant_id, created, source_id, policy_id, assignee_id, priority, key, ack, res, maintenance,
                   auto_resolved=resolved is not None and resolver is None,
                   quick=res is not None and res <= QUICK_SECONDS and ack is None,
                   flapping=_flaps(flaps.get((source_id, key), ()), created, pk), events=events,
                   acceptor_id=acceptor, accept_via=via or "")


def _resolutions(rows):
    """{(source id, key): sorted [(resolved_at, incident id)]} of the resolutions that may make
    these incidents flap (in the hour before the first creation up to the last)."""
    since = min(row[2] for row in rows) - FLAP_WINDOW
    until = max(row[2] for row in rows)
    queryset = Incident.objects.filter(tenant_id__in={row[1] for row in rows}, resolved_at__gte=since,
                                       resolved_at__lte=until)
    pairs = {(row[3], row[7]) for row in rows}
    if len(pairs) <= 100:
        queryset = queryset.filter(alert_source_id__in={s for s, _ in pairs}, incident_key__in={k for _, k in pairs})
    index = defaultdict(list)
    for source_id, key, resolved, pk in queryset.order_by().values_list("alert_source_id", "incident_key",
                                                                        "resolved_at", "pk").iterator(chunk_size=10000):
        if (source_id, key) in pairs:
            index[(source_id, key)].append((resolved, pk))
    for items in index.values():
        items.sort()
    return index


def _flaps(resolutions, created, pk):
    """Was another incident of the key resolved in [created - 1 h, created]?"""
    i = bisect_left(resolutions, (created - FLAP_WINDOW, -1))
    while i < len(resolutions) and resolutions[i][0] <= created:
        if resolutions[i][1] != pk:
            return True
        i += 1
    return False


class Totals:
    """Sums over incidents; adds facts (sign -1 takes one out) and roll-up rows alike."""

    COUNTERS = ("incidents", "maintenance", "acked", "ack_sum", "resolved", "resolve_sum", "auto_resolved", "quick",
                "noise", "flapping", "events")
    __slots__ = (*COUNTERS, "ack_hist", "resolve_hist")

    def __init__(self):
        for name in self.COUNTERS:
            setattr(self, name, 0)
        self.ack_hist, self.resolve_hist = Counter(), Counter()

    def add_fact(self, fact, sign=1):
        if fact.maintenance:
            self.maintenance += sign
            return
        self.incidents += sign
        self.events += sign * fact.events
        if fact.ack_seconds is not None:
            self.acked += sign
            self.ack_sum += sign * fact.ack_seconds
            self.ack_hist[bucket(fact.ack_seconds)] += sign
        if fact.resolve_seconds is not None:
            self.resolved += sign
            self.resolve_sum += sign * fact.resolve_seconds
            self.resolve_hist[bucket(fact.resolve_seconds)] += sign
        self.auto_resolved += sign * fact.auto_resolved
        self.quick += sign * fact.quick
        self.noise += sign * fact.noise
        self.flapping += sign * fact.flapping

    def add_row(self, row):
        """A DailyRollup (or a dict with its fields)."""
        get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
        for name in self.COUNTERS:
            setattr(self, name, getattr(self, name) + get(name))
        for name in ("ack_hist", "resolve_hist"):
            hist = getattr(self, name)
            for index, count in get(name).items():
                hist[int(index)] += count

    def merge(self, other):
        for name in self.COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ack_hist.update(other.ack_hist)
        self.resolve_hist.update(other.resolve_hist)

    def as_row(self):
        """Fields for a DailyRollup (histograms without empty buckets, keys as strings for JSON)."""
        row = {name: getattr(self, name) for name in self.COUNTERS}
        row["ack_hist"] = {str(k): v for k, v in sorted(self.ack_hist.items()) if v}
        row["resolve_hist"] = {str(k): v for k, v in sorted(self.resolve_hist.items()) if v}
        return row

    @property
    def empty(self):
        return not any(getattr(self, name) for name in self.COUNTERS)

    def summary(self):
        n = self.incidents
        return {
            "incidents": n,
            "maintenance": self.maintenance,
            "open": n - self.resolved,
            "mtta": _stats(self.acked, self.ack_sum, self.ack_hist),
            "mttr": _stats(self.resolved, self.resolve_sum, self.resolve_hist),
            "auto_resolved": self.auto_resolved,
            "quick": self.quick,
            "noise": self.noise,
            "noise_share": round(self.noise / n, 4) if n else None,
            "flapping": self.flapping,
            "events": self.events,
            "events_per_incident": round(self.events / n, 2) if n else None,
        }


def percentile(hist, count, p):
    """Nearest rank on the histogram: the lower edge of the bucket holding rank ⌈p·n⌉."""
    if not count:
        return None
    rank, seen = max(1, math.ceil(p * count)), 0
    for index in sorted(hist):
        seen += hist[index]
        if seen >= rank:
            return lower_edge(index)
    return None


def _stats(count, total, hist):
    return {"count": count, "mean": round(total / count, 1) if count else None,
            "median": percentile(hist, count, 0.5), "p90": percentile(hist, count, 0.9)}
