"""Dates and times as clients send them to schedules (the API, the dashboard, imports): parsed into
the instants and wall-clock times the services store, with errors that name the field."""

from datetime import date, datetime, time

from django.core.exceptions import ValidationError

from accounts.models import validate_time_zone
from ilert.errors import DomainError

from .resolution import UTC, utc_to_wall, wall_to_utc

# Rules and windows must stay in years where every wall-clock computation is well defined.
MIN_YEAR, MAX_YEAR = 1970, 2200


def check_time_zone(value, field="timezone"):
    try:
        validate_time_zone(value)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field=field) from None
    return value


def check_year(value, field):
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise DomainError(f"Must be between {MIN_YEAR} and {MAX_YEAR}.", field=field)


def parse_instant(value, tz, field):
    """An aware UTC datetime from an aware datetime, a naive one (a wall-clock time in `tz`, read
    by the DST rule), an ISO 8601 string (with or without offset) or a date (midnight in `tz`)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise DomainError("A date and time is required.", field=field)
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise DomainError(f"{value!r} is not an ISO 8601 date-time like 2025-03-30T09:00:00+02:00.",
                              field=field) from None
        if len(text) == 10:  # a bare date
            value = value.date()
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if not isinstance(value, datetime):
        raise DomainError("A date and time is required.", field=field)
    check_year(value, field)
    if value.tzinfo is None:
        return wall_to_utc(value, tz)
    return value.astimezone(UTC)


def parse_wall(value, tz, field):
    """A naive wall-clock datetime in `tz` from a naive datetime or ISO string; an aware value is
    converted to `tz`'s wall clock."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise DomainError(f"{value!r} is not a date-time like 2025-03-03T09:00.", field=field) from None
    if not isinstance(value, datetime):
        raise DomainError("A date and time is required.", field=field)
    if value.tzinfo is not None:
        value = utc_to_wall(value, tz)
    check_year(value, field)
    return value
