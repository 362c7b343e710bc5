"""A deliberately naive model of the documented on-call rules, one instant at a time, for property
tests to compare the real resolution against. Slow and obvious on purpose: no windows, no interval
arithmetic, no merging; it asks "who is on call at t?" straight from the rules in the README."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


def wall_to_utc(wall, tz):
    """The documented DST rule: fold=0 (a skipped wall time moves forward by the gap, a repeated one
    means its first occurrence)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


@dataclass
class LayerSpec:
    users: list
    anchor: datetime  # naive wall clock
    step: timedelta
    windows: list = field(default_factory=list)  # stored restriction dicts
    end: datetime | None = None


@dataclass
class Spec:
    tz: object
    layers: list = field(default_factory=list)  # lowest priority first
    overrides: list = field(default_factory=list)  # (start, end, user), oldest first


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _minutes(text):
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def in_window(window, tz, t):
    """Is instant t inside some occurrence of the restriction window?"""
    local_day = t.astimezone(tz).date()
    start, end = timedelta(minutes=_minutes(window["start"])), timedelta(minutes=_minutes(window["end"]))
    if window["type"] == "time_of_week":
        start += timedelta(days=DAYS.index(window["start_day"]))
        end += timedelta(days=DAYS.index(window["end_day"]))
        if end <= start:
            end += timedelta(days=7)
        monday = local_day - timedelta(days=local_day.weekday())
        firsts = [monday + timedelta(days=7 * n) for n in range(-3, 2)]
    else:
        if end <= start:
            end += timedelta(days=1)
        firsts = [local_day + timedelta(days=n) for n in range(-3, 2)]
    for first in firsts:
        base = datetime(first.year, first.month, first.day)
        if wall_to_utc(base + start, tz) <= t < wall_to_utc(base + end, tz):
            return True
    return False


def layer_user(layer, tz, t):
    if not layer.users:
        return None
    if layer.end is not None and t >= layer.end:
        return None
    if layer.windows and not any(in_window(w, tz, t) for w in layer.windows):
        return None
    # The turn in force is the one with the highest k whose handoff instant is <= t. Handoff k's
    # wall time is anchor + k*step; no instant is more than 15 hours from its wall time.
    naive = t.astimezone(UTC).replace(tzinfo=None)
    k = (naive + timedelta(hours=15) - layer.anchor) // layer.step + 1
    while k >= 0:
        if wall_to_utc(layer.anchor + k * layer.step, tz) <= t:
            return layer.users[k % len(layer.users)]
        k -= 1
    return None


def who(spec, t):
    for start, end, user in reversed(spec.overrides):
        if start <= t < end:
            return user
    for layer in reversed(spec.layers):
        user = layer_user(layer, spec.tz, t)
        if user is not None:
            return user
    return None
