"""Helpers the adapters share: instants, wall clocks, rotation lengths, restriction windows."""

import zoneinfo
from datetime import UTC, datetime, timedelta

from accounts.models import _time_zones
from schedules.resolution import DAY_NAMES, format_minutes, utc_to_wall


def instant(text):
    """An aware UTC datetime from an ISO 8601 string with an offset (vendors always send one)."""
    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value):
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def known_zone(name):
    return bool(name) and name in _time_zones()


def wall(value, zone_name):
    return utc_to_wall(value, zoneinfo.ZoneInfo(zone_name))


def length_from_seconds(seconds):
    """(count, unit) of a rotation length in seconds, or None when it is no whole number of hours."""
    for unit, size in (("weeks", 604800), ("days", 86400), ("hours", 3600)):
        if seconds > 0 and seconds % size == 0:
            return seconds // size, unit
    return None


def window(start_minute, duration_minutes, start_day=None):
    """A restriction in the stored form from a start and a duration (< 1 day, or < 1 week when
    `start_day` 0–6 is given)."""
    end_minute = start_minute + duration_minutes
    if start_day is None:
        return {"type": "time_of_day", "start": format_minutes(start_minute), "end": format_minutes(end_minute % 1440)}
    end_day = (start_day + end_minute // 1440) % 7
    return {"type": "time_of_week", "start_day": DAY_NAMES[start_day], "start": format_minutes(start_minute),
            "end_day": DAY_NAMES[end_day], "end": format_minutes(end_minute % 1440)}


def step_of(count, unit):
    return timedelta(**{unit: count})


def together(pieces):
    """Pieces of several rotations as (start, end, everyone on call) without overlaps."""
    cuts = sorted({t for s, e, _w in pieces for t in (s, e)})
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        who = frozenset().union(*[w for s, e, w in pieces if s < b and e > a]) if pieces else frozenset()
        if who:
            if out and out[-1][1] == a and out[-1][2] == who:
                out[-1] = (out[-1][0], b, who)
            else:
                out.append((a, b, who))
    return out
