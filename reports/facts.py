"""Per-incident facts and the sums built from them (docs/reports.md).

One function computes the facts of incidents from the other apps' tables (`compute`); the live
query, the incremental roll-ups and the rebuild all go through it, and all add facts up with the
same `Totals`, so the three give the same numbers."""

import math
from collections import Counter
from dataclasses import dataclass, fields
from datetime import timedelta

from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, Subquery

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
    """Facts of the incidents of a queryset, in one query."""
    first_accept = (IncidentLogEntry.objects.filter(incident=OuterRef("pk"), kind=LogKind.ACCEPTED)
                    .order_by("at", "id"))
    flap_from = ExpressionWrapper(OuterRef("created_at") - FLAP_WINDOW, output_field=DateTimeField())
    earlier = Incident.objects.filter(
        alert_source_id=OuterRef("alert_source_id"), incident_key=OuterRef("incident_key"),
        resolved_at__gte=flap_from, resolved_at__lte=OuterRef("created_at"),
    ).exclude(pk=OuterRef("pk"))
    rows = (incidents.order_by().annotate(first_accept=Subquery(first_accept.values("at")[:1]),
                                          acceptor=Subquery(first_accept.values("actor_id")[:1]),
                                          via=Subquery(first_accept.values("via")[:1]), flaps=Exists(earlier))
            .values_list("pk", "tenant_id", "created_at", "alert_source_id", "escalation_policy_id", "assigned_to_id",
                         "priority", "incident_key", "first_accept", "resolved_at", "resolved_by_id", "in_maintenance",
                         "event_count", "flaps", "acceptor", "via"))
    for (pk, tenant_id, created, source_id, policy_id, assignee_id, priority, key, accepted, resolved, resolver,
         maintenance, events, flaps, acceptor, via) in rows.iterator(chunk_size=5000):
        ack, res = _seconds(created, accepted), _seconds(created, resolved)
        yield Fact(pk, tenant_id, created, source_id, policy_id, assignee_id, priority, key, ack, res, maintenance,
                   auto_resolved=resolved is not None and resolver is None,
                   quick=res is not None and res <= QUICK_SECONDS and ack is None,
                   flapping=flaps, events=events, acceptor_id=acceptor, accept_via=via or "")


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
