"""Restrictions: the wall-clock windows a layer covers (every day, or every week), validated into
their stored form, and read from and written as the dashboard's one-window-per-line text."""

import re

from ilert.errors import DomainError

from .resolution import DAY_NAMES, format_minutes, parse_hhmm

MAX_RESTRICTIONS = 50
_DAY_ALIASES = {name: i for i, name in enumerate(DAY_NAMES)}
_DAY_ALIASES.update({full: i for i, full in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))})


def _day(value, field):
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return DAY_NAMES[value]
    key = str(value).strip().lower()
    if key in _DAY_ALIASES:
        return DAY_NAMES[_DAY_ALIASES[key]]
    raise DomainError(f"{value!r} is not a day of the week (mon … sun).", field=field)


def normalize_restrictions(value):
    """Validate restrictions and return their stored form:
    {"type": "time_of_day", "start": "18:00", "end": "08:00"} (end ≤ start crosses midnight) or
    {"type": "time_of_week", "start_day": "mon", "start": "09:00", "end_day": "fri", "end": "17:00"}."""
    field = "restrictions"
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise DomainError("A list of time windows.", field=field)
    if len(value) > MAX_RESTRICTIONS:
        raise DomainError(f"At most {MAX_RESTRICTIONS} windows.", field=field)
    out = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise DomainError("Each window is an object with type, start and end.", field=where)
        kind = item.get("type", "time_of_day")
        try:
            start, end = parse_hhmm(item.get("start", "")), parse_hhmm(item.get("end", ""))
        except ValueError as exc:
            raise DomainError(str(exc), field=where) from None
        if kind == "time_of_day":
            if start == end:
                raise DomainError("Start and end are equal: the window would be empty or the whole day "
                                  "(remove the restriction to cover all the time).", field=where)
            out.append({"type": kind, "start": format_minutes(start), "end": format_minutes(end)})
        elif kind == "time_of_week":
            start_day, end_day = _day(item.get("start_day"), where), _day(item.get("end_day"), where)
            if (start_day, start) == (end_day, end):
                raise DomainError("Start and end are equal: the window would be empty or the whole week.",
                                  field=where)
            out.append({"type": kind, "start_day": start_day, "start": format_minutes(start),
                        "end_day": end_day, "end": format_minutes(end)})
        else:
            raise DomainError("type is time_of_day or time_of_week.", field=where)
    return out


_TEXT_DAY = r"([A-Za-z]{3,9})"
_TEXT_TIME = r"(\d{1,2}:\d{2})"
_DAILY = re.compile(rf"^{_TEXT_TIME}\s*[-–—]\s*{_TEXT_TIME}$")
_WEEKLY = re.compile(rf"^{_TEXT_DAY}\s+{_TEXT_TIME}\s*[-–—]\s*{_TEXT_DAY}\s+{_TEXT_TIME}$")


def restrictions_from_text(text):
    """One window per line: `18:00-08:00` (every day) or `Mon 09:00 - Fri 17:00` (every week)."""
    items = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        daily, weekly = _DAILY.match(line), _WEEKLY.match(line)
        if daily:
            items.append({"type": "time_of_day", "start": daily.group(1), "end": daily.group(2)})
        elif weekly:
            items.append({"type": "time_of_week", "start_day": weekly.group(1), "start": weekly.group(2),
                          "end_day": weekly.group(3), "end": weekly.group(4)})
        else:
            raise DomainError(f"Line {number}: {line!r} is not a window like 18:00-08:00 or Mon 09:00-Fri 17:00.",
                              field="restrictions")
    return normalize_restrictions(items)


def restrictions_as_text(restrictions):
    lines = []
    for item in restrictions or ():
        if item.get("type") == "time_of_week":
            lines.append(f"{item['start_day'].title()} {item['start']} - {item['end_day'].title()} {item['end']}")
        else:
            lines.append(f"{item['start']} - {item['end']}")
    return "\n".join(lines)


def describe_restrictions(restrictions):
    return ", ".join(restrictions_as_text(restrictions).splitlines()) or "all the time"
