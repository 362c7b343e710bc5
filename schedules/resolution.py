"""On-call resolution: pure functions from a schedule's rules to who is on call when.

No database, no clock, no writes. `schedules.selectors` loads the rules (`Plan`) from the database
and calls `resolve`; tests and the benchmark may build a `Plan` by hand.

Semantics (docs/schedules.md says the same for users):

* All instants are aware UTC datetimes; every rule that people think of in wall-clock terms
  (rotation start, handoffs, restriction windows) is a naive wall-clock value in the schedule's
  IANA zone, turned into an instant by `wall_to_utc`.

* **The DST rule** (`wall_to_utc`, RFC 5545 §3.3.5 and PEP 495 `fold=0`):
  - a wall time that does not exist (02:30 on a spring-forward day in Europe/Berlin) is read with
    the UTC offset in force *before* the gap, so it moves forward by the length of the gap
    (02:30 → 03:30 CEST);
  - a wall time that exists twice (02:30 on a fall-back day) means its *first* occurrence
    (02:30 CEST, not 02:30 CET).

* A layer hands off at wall-clock times: handoff k is at `rotation_start + k × length`, computed
  on the wall clock (a daily 09:00 handoff stays at 09:00 local on both sides of a DST change, so
  that shift lasts 23 or 25 hours; a 12-hour rotation anchored at 09:00 hands off at 09:00 and
  21:00 local). Turn k belongs to `users[k mod n]`. At instant t the turn in force is the latest
  one (highest k) whose handoff instant is ≤ t. (Only in zones whose gap is longer than the
  rotation length can two handoffs map out of order; this rule still gives one answer.) Before
  the first handoff, and from the layer's `end` on, the layer covers nobody.

* A deactivated user's turns go to the next active user in the layer's order.

* Restrictions are wall-clock windows: time of day (`18:00–08:00` crosses midnight) or time of
  week (`Mon 09:00 – Fri 17:00`; `Fri 17:00 – Mon 09:00` crosses the week's end). Each occurrence
  of a window becomes the instants [start, end) by the DST rule. A layer with restrictions covers
  only the union of those instants; a layer without restrictions covers all the time.

* Layers are stacked: where several cover an instant, the highest (largest `position`) wins.
  Static schedules have explicit shifts instead of layers. Overrides win over every layer and
  shift; where overrides overlap, the one created last wins.

* The result is a list of non-overlapping `Segment`s sorted by start, clipped to the asked window.
  Gaps (nobody on call) are *not* segments: `Segment.user` is never None. Adjacent segments with
  the same user and the same source are merged.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# More than any UTC offset a zone has ever had: bounds how far a wall time can be from its instant.
_SLACK = timedelta(hours=18)
TICK = timedelta(microseconds=1)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def wall_to_utc(wall: datetime, tz) -> datetime:
    """The instant of a naive wall-clock time in `tz`, by the DST rule above (fold=0)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def utc_to_wall(instant: datetime, tz) -> datetime:
    """The naive wall-clock time in `tz` of an aware instant."""
    return instant.astimezone(tz).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Source:
    """What produced a segment: a layer, an override or a static shift."""

    kind: str  # "layer" | "override" | "shift"
    id: int
    name: str = ""

    def __str__(self):
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class Segment:
    """`user` is on call from `start` (inclusive) to `end` (exclusive), both aware UTC."""

    user: Any
    start: datetime
    end: datetime
    source: Source

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Window:
    """A restriction window in minutes of the day. Time of day: `start_day`/`end_day` are None.
    Time of week: days 0 (Monday) – 6 (Sunday)."""

    start: int
    end: int
    start_day: int | None = None
    end_day: int | None = None

    @property
    def weekly(self):
        return self.start_day is not None


@dataclass(slots=True)
class LayerRule:
    id: int
    name: str
    anchor: datetime  # naive wall clock: the first handoff
    step: timedelta  # rotation length on the wall clock
    users: list  # in rotation order; None marks a deactivated user (their turns pass on)
    windows: tuple = ()
    end: datetime | None = None  # aware; the layer covers nobody from here on
    _turn_users: list | None = field(default=None, repr=False)

    def turn_users(self):
        """users[i], or the next active user after i (None if nobody is active)."""
        if self._turn_users is None:
            n = len(self.users)
            self._turn_users = [
                next((self.users[(i + j) % n] for j in range(n) if self.users[(i + j) % n] is not None), None)
                for i in range(n)
            ]
        return self._turn_users


@dataclass(slots=True)
class Plan:
    """Everything `resolve` needs. `layers` lowest priority first. `shifts` and `overrides` are
    (start, end, user, id) tuples of aware datetimes; overrides in priority order, lowest first
    (later-created last)."""

    tz: Any
    layers: list = field(default_factory=list)
    shifts: list = field(default_factory=list)
    overrides: list = field(default_factory=list)


@dataclass(slots=True)
class Resolution:
    final: list  # [Segment]
    layers: list  # [(LayerRule, [Segment])], highest first, as shown on a schedule page
    overrides: list  # [Segment]: the overrides in force (later-created win)


# --- building blocks on (start, end, user, source) tuples --------------------------------------


def _merge_adjacent(items):
    """Join touching pieces with the same user and source."""
    out = []
    for item in items:
        if out:
            last = out[-1]
            if last[1] == item[0] and last[3] == item[3] and (last[2] is item[2] or last[2] == item[2]):
                out[-1] = (last[0], item[1], last[2], last[3])
                continue
        out.append(item)
    return out


def _paint(base, top):
    """`top` over `base` (both sorted and non-overlapping): top wins where it covers."""
    if not top:
        return base
    if not base:
        return top
    out = list(top)
    m = len(top)
    top_ends = [t[1] for t in top]
    for item in base:
        s, e = item[0], item[1]
        k = bisect_right(top_ends, s)  # first top piece ending after s
        if k >= m or top[k][0] >= e:
            out.append(item)
            continue
        while s < e:
            if k >= m or top[k][0] >= e:
                out.append((s, e, item[2], item[3]))
                break
            t_start, t_end = top[k][0], top[k][1]
            if t_start > s:
                out.append((s, t_start, item[2], item[3]))
            if t_end > s:
                s = t_end
            k += 1
    out.sort(key=_start)
    return out


def _start(item):
    return item[0]


def _intersect(pieces, cover):
    """Pieces clipped to the union `cover` of (start, end) intervals (both sorted, disjoint)."""
    out = []
    i = j = 0
    while i < len(pieces) and j < len(cover):
        p, c = pieces[i], cover[j]
        s = p[0] if p[0] > c[0] else c[0]
        e = p[1] if p[1] < c[1] else c[1]
        if s < e:
            out.append((s, e, p[2], p[3]))
        if p[1] <= c[1]:
            i += 1
        else:
            j += 1
    return out


def _union(intervals):
    intervals.sort()
    out = []
    for s, e in intervals:
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


# --- layers ------------------------------------------------------------------------------------


def _naive_utc(instant):
    return instant.astimezone(UTC).replace(tzinfo=None)


def _turns(layer: LayerRule, tz, a: datetime, b: datetime, source: Source):
    """The layer's rotation turns in [a, b), ignoring restrictions."""
    users = layer.turn_users()
    if not users or all(u is None for u in users):
        return []
    step, anchor = layer.step, layer.anchor
    # Handoffs with a wall time before lo are in force by `a`; those after hi start after `b`.
    k1 = max(0, (_naive_utc(a) - _SLACK - anchor) // step)
    k2 = (_naive_utc(b) + _SLACK - anchor) // step
    if k2 < k1:
        return []
    n = len(users)
    handoffs = [wall_to_utc(anchor + k * step, tz) for k in range(k1, k2 + 1)]
    out = []
    following = b  # the earliest later handoff (clipped to b): where this turn ends
    for index in range(len(handoffs) - 1, -1, -1):
        h = handoffs[index]
        if h < following and following > a:
            user = users[(k1 + index) % n]
            if user is not None:
                out.append((h if h > a else a, following, user, source))
        if h < following:
            following = h
    out.reverse()
    return out


def _window_cover(windows, tz, a: datetime, b: datetime):
    """The union of the restriction windows' occurrences, as instants, around [a, b)."""
    lo = (_naive_utc(a) - _SLACK).date() - timedelta(days=1)
    hi = (_naive_utc(b) + _SLACK).date()
    intervals = []
    for window in windows:
        start_t = timedelta(minutes=window.start)
        end_t = timedelta(minutes=window.end)
        if window.weekly:
            offset_start = timedelta(days=window.start_day) + start_t
            offset_end = timedelta(days=window.end_day) + end_t
            if offset_end <= offset_start:
                offset_end += timedelta(days=7)
            first = lo - timedelta(days=lo.weekday() + 7)
            stride = timedelta(days=7)
        else:
            offset_start, offset_end = start_t, end_t
            if offset_end <= offset_start:
                offset_end += timedelta(days=1)
            first = lo
            stride = timedelta(days=1)
        day = datetime(first.year, first.month, first.day)
        last = datetime(hi.year, hi.month, hi.day)
        while day <= last:
            s = wall_to_utc(day + offset_start, tz)
            e = wall_to_utc(day + offset_end, tz)
            if s < e and e > a and s < b:
                intervals.append((s if s > a else a, e if e < b else b))
            day += stride
    return _union(intervals)


def layer_segments(layer: LayerRule, tz, a: datetime, b: datetime):
    """One layer's own coverage in [a, b) as (start, end, user, source) tuples."""
    if layer.end is not None:
        if layer.end <= a:
            return []
        if layer.end < b:
            b = layer.end
    source = Source("layer", layer.id, layer.name)
    pieces = _turns(layer, tz, a, b, source)
    if layer.windows and pieces:
        pieces = _intersect(pieces, _window_cover(layer.windows, tz, a, b))
    return _merge_adjacent(pieces)


def _clip(items, a, b):
    out = []
    for s, e, user, source in items:
        if e > a and s < b:
            out.append((s if s > a else a, e if e < b else b, user, source))
    return out


def _stack(entries, kind):
    """(start, end, user, id) entries, lowest priority first, into disjoint pieces (later win)."""
    label = kind.title()
    pieces = [(s, e, user, Source(kind, pk, label)) for s, e, user, pk in entries if user is not None and s < e]
    if not pieces:
        return []
    ordered = sorted(pieces, key=_start)
    if all(ordered[i][1] <= ordered[i + 1][0] for i in range(len(ordered) - 1)):
        return ordered
    result = []
    for piece in pieces:  # in priority order: each one painted over those before it
        result = _paint(result, [piece])
    return result


def resolve(plan: Plan, start: datetime, end: datetime, *, with_layers: bool = True) -> Resolution:
    """Who is on call in [start, end): the final timeline, each layer's own, the overrides'."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    a, b = start.astimezone(UTC), end.astimezone(UTC)
    if b <= a:
        return Resolution([], [(layer, []) for layer in reversed(plan.layers)] if with_layers else [], [])
    tz = plan.tz
    per_layer = []
    base = []
    if plan.layers:
        for layer in plan.layers:
            pieces = layer_segments(layer, tz, a, b)
            per_layer.append((layer, pieces))
            base = _paint(base, pieces)
    if plan.shifts:
        base = _paint(base, _clip(_stack(plan.shifts, "shift"), a, b))
    overrides = _clip(_stack(plan.overrides, "override"), a, b)
    final = _merge_adjacent(_paint(base, overrides))
    return Resolution(
        final=[_segment(item) for item in final],
        layers=[(layer, [_segment(item) for item in pieces]) for layer, pieces in reversed(per_layer)]
        if with_layers else [],
        overrides=[_segment(item) for item in overrides],
    )


def _segment(item):
    return Segment(item[2], item[0], item[1], item[3])


def timeline(plan: Plan, start: datetime, end: datetime) -> list[Segment]:
    return resolve(plan, start, end, with_layers=False).final


def on_call(plan: Plan, at: datetime):
    """The segment in force at `at`, or None (nobody is on call)."""
    final = resolve(plan, at, at + TICK, with_layers=False).final
    return final[0] if final else None


# --- helpers for callers -----------------------------------------------------------------------


def parse_hhmm(value: str) -> int:
    """'18:30' → minutes of the day. Raises ValueError."""
    hours, _, minutes = str(value).strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and 1 <= len(hours) <= 2):
        raise ValueError(f"{value!r} is not a time like 18:00")
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ValueError(f"{value!r} is not a time of day (00:00–23:59)")
    return h * 60 + m


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def windows_from_json(restrictions) -> tuple:
    """Layer.restrictions (normalised JSON, see schedules.services) → Windows."""
    out = []
    for item in restrictions or ():
        if item.get("type") == "time_of_week":
            out.append(Window(parse_hhmm(item["start"]), parse_hhmm(item["end"]),
                              DAY_NAMES.index(item["start_day"]), DAY_NAMES.index(item["end_day"])))
        else:
            out.append(Window(parse_hhmm(item["start"]), parse_hhmm(item["end"])))
    return tuple(out)
