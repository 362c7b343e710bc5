"""Times in the reader's zone (issue 15). Every dashboard request runs in the zone of the user reading
it (their own, else their organisation's, else UTC), so Django's date filters and form fields read and
show times there; the `when` filter (ilert/templatetags/when.py) is the one way pages show a time: in
that zone, with the zone named, and how long ago or ahead it is.

The API is left out: it answers in UTC whoever asks."""

import zoneinfo
from datetime import datetime, timedelta

from django.utils import timezone

from . import clock

UTC = zoneinfo.ZoneInfo("UTC")


def zone_named(name):
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def zone_for(user):
    """The zone `user` reads times in."""
    if user is None or not getattr(user, "is_authenticated", False):
        return UTC
    tenant = getattr(user, "tenant", None)
    return zone_named(user.timezone) or zone_named(getattr(tenant, "timezone", "")) or UTC


class ReaderTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            return self.get_response(request)
        timezone.activate(zone_for(getattr(request, "user", None)))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def zone_label(moment):
    """"CET", "EDT", "UTC"; zones without a letter abbreviation get "UTC+3", "UTC+5:30"."""
    name = moment.tzname() or ""
    if name.isalpha():
        return name
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def absolute(moment, zone, *, now=None, seconds=False):
    """"09:43 CET" today, "Thu 3 Dec 09:43 CET" this year, "3 Dec 2025 09:43 CET" otherwise."""
    local = moment.astimezone(zone)
    today = (now or clock.now()).astimezone(zone).date()
    clock_part = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    if local.date() == today:
        day = ""
    elif local.year == today.year:
        day = f"{local:%a} {local.day} {local:%b} "
    else:
        day = f"{local.day} {local:%b %Y} "
    return f"{day}{clock_part} {zone_label(local)}"


def relative(moment, *, now=None):
    """"just now", "3 min ago", "in 4 min", "2 h 5 min ago", "3 days ago"; never "0 minutes ago"."""
    delta = moment - (now or clock.now())
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        return "just now" if delta.total_seconds() <= 0 else "in under a minute"
    minutes = int(seconds // 60)
    if minutes < 60:
        amount = f"{minutes} min"
    elif minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        amount = f"{hours} h" + (f" {rest} min" if rest and hours < 6 else "")
    else:
        days = minutes // (24 * 60)
        amount = f"{days} days"
    return f"{amount} ago" if delta.total_seconds() < 0 else f"in {amount}"


def full(moment, zone):
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M:%S} {zone_label(local)} ({zone.key})"


def is_aware(value):
    return isinstance(value, datetime) and value.tzinfo is not None
