"""iCalendar (RFC 5545) for schedules, with the icalendar library: feeds out, .ics files in.

Feeds carry one VEVENT per timeline segment, in UTC (`DTSTART:20250330T070000Z`), with
X-ILERT-USER-ID / X-ILERT-USER-EMAIL / X-ILERT-SOURCE so a feed parses back to exactly the segments
it was made from. Calendar apps show SUMMARY ("On call: Ada Admin").
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import icalendar

from ilert.errors import DomainError

from .resolution import UTC, utc_to_wall, wall_to_utc

FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 180
MAX_IMPORT_EVENTS = 5000
PRODID = "-//ilert//schedules//EN"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _calendar(name, description=""):
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    if description:
        cal.add("x-wr-caldesc", description)
    # Ask subscribers to refresh hourly (Outlook honours REFRESH-INTERVAL, Google X-PUBLISHED-TTL).
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    return cal


def _event(*, uid, start, end, summary, description, user, source, stamp):
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("summary", summary)
    event.add("description", description)
    event.add("transp", "TRANSPARENT")
    event.add("x-ilert-user-id", str(user.pk))
    event.add("x-ilert-user-email", user.email)
    event.add("x-ilert-source", str(source))
    return event


def _uid(schedule_id, segment):
    source = segment.source
    return f"{schedule_id}-{source.kind}-{source.id}-{segment.user.pk}-{int(segment.start.timestamp())}@ilert"


def schedule_calendar(schedule, segments, *, stamp) -> bytes:
    """A schedule's final timeline as an iCalendar feed."""
    cal = _calendar(f"On call: {schedule.name}", schedule.description)
    cal.add("x-wr-timezone", schedule.timezone)
    for segment in segments:
        cal.add_component(_event(
            uid=_uid(schedule.pk, segment), start=segment.start, end=segment.end,
            summary=f"On call: {segment.user.display_name}",
            description=f"{segment.user.display_name} <{segment.user.email}> is on call in {schedule.name} "
                        f"({_source_label(segment.source)}).",
            user=segment.user, source=segment.source, stamp=stamp,
        ))
    return cal.to_ical()


def user_calendar(user, shifts, *, stamp) -> bytes:
    """One user's shifts across all schedules (selectors.UserShift items)."""
    cal = _calendar(f"On call: {user.display_name}")
    if user.timezone:
        cal.add("x-wr-timezone", user.timezone)
    for shift in shifts:
        cal.add_component(_event(
            uid=_uid(shift.schedule.pk, shift), start=shift.start, end=shift.end,
            summary=f"On call: {shift.schedule.name}",
            description=f"You are on call in {shift.schedule.name} ({_source_label(shift.source)}).",
            user=shift.user, source=shift.source, stamp=stamp,
        ))
    return cal.to_ical()


def _source_label(source):
    if source.kind == "layer":
        return f"layer {source.name}" if source.name else "layer"
    return source.kind


# --- import ------------------------------------------------------------------------------------


def _instant(value, tz):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return wall_to_utc(value, tz)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return wall_to_utc(datetime.combine(value, time()), tz)
    raise ValueError(f"not a date or date-time: {value!r}")


def _text(event, name):
    value = event.get(name)
    return str(value) if value is not None else ""


def _match_user(event, by_email, by_name):
    candidates = []
    explicit = _text(event, "X-ILERT-USER-EMAIL")
    if explicit:
        candidates.append(explicit)
    attendees = event.get("ATTENDEE")
    if attendees is not None:
        for attendee in attendees if isinstance(attendees, list) else [attendees]:
            candidates.append(re.sub(r"^mailto:", "", str(attendee), flags=re.IGNORECASE))
    for field in ("SUMMARY", "DESCRIPTION"):
        candidates.extend(_EMAIL.findall(_text(event, field)))
    for email in candidates:
        user = by_email.get(email.strip().lower())
        if user is not None:
            return user
    summary = re.sub(r"^\s*on[- ]call\s*:\s*", "", _text(event, "SUMMARY"), flags=re.IGNORECASE).strip().lower()
    return by_name.get(summary)


def parse_events(data, tz, users):
    """[(start, end, user)] sorted by start, from iCalendar bytes. Raises DomainError with a
    message a person can act on."""
    cal = _read_calendar(data)
    by_email = {u.email.lower(): u for u in users}
    by_name = {}
    for user in users:
        if user.name:
            by_name.setdefault(user.name.strip().lower(), user)
    events = []
    for event in cal.walk("VEVENT"):
        if len(events) >= MAX_IMPORT_EVENTS:
            raise DomainError(f"At most {MAX_IMPORT_EVENTS} events per file.", field="file")
        if _text(event, "STATUS").upper() == "CANCELLED":
            continue
        summary = _text(event, "SUMMARY") or _text(event, "UID") or "an event"
        if event.get("RRULE") is not None or event.get("RDATE") is not None:
            raise DomainError(f"{summary!r} repeats (RRULE/RDATE); import single events, or use a recurring "
                              "schedule with layers for rotations.", field="file")
        start, end = _span(event, summary, tz)
        when = f"{utc_to_wall(start, tz):%Y-%m-%d %H:%M}"
        if end <= start:
            raise DomainError(f"{summary!r} at {when} ends before it starts.", field="file")
        user = _match_user(event, by_email, by_name)
        if user is None:
            raise DomainError(
                f"No user of this organisation matches {summary!r} at {when}. Put the user's email in "
                "ATTENDEE or SUMMARY, or make SUMMARY the user's name.", field="file")
        events.append((start, end, user))
    if not events:
        raise DomainError("The file has no events.", field="file")
    events.sort(key=lambda item: (item[0], item[1]))
    return events


def _read_calendar(data):
    """The parsed VCALENDAR of a file (bytes or text)."""
    if isinstance(data, str):
        data = data.encode()
    if not data or not data.strip():
        raise DomainError("The file is empty.", field="file")
    try:
        cal = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise DomainError(f"Not an iCalendar file: {exc}", field="file") from None
    if not isinstance(cal, icalendar.Calendar):
        raise DomainError("Not an iCalendar file: it must start with BEGIN:VCALENDAR.", field="file")
    return cal


def _span(event, summary, tz):
    """(start, end) instants of an event: DTSTART, and DTEND, DTSTART + DURATION or (an all-day
    event) the next day."""
    try:
        raw_start = event.decoded("DTSTART")
    except KeyError:
        raise DomainError(f"{summary!r} has no DTSTART.", field="file") from None
    except ValueError as exc:
        raise DomainError(f"{summary!r}: unreadable DTSTART ({exc}).", field="file") from None
    try:
        if event.get("DTEND") is not None:
            raw_end = event.decoded("DTEND")
        elif event.get("DURATION") is not None:
            raw_end = raw_start + event.decoded("DURATION")
        elif isinstance(raw_start, date) and not isinstance(raw_start, datetime):
            raw_end = raw_start + timedelta(days=1)
        else:
            raise DomainError(f"{summary!r} has neither DTEND nor DURATION.", field="file")
        return _instant(raw_start, tz), _instant(raw_end, tz)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DomainError(f"{summary!r}: unreadable times ({exc}).", field="file") from None
