"""Report filters from a URL's query string (docs/reports.md, "Common rules"). Bad input is a
ParamError naming the field; another tenant's id is refused exactly like an unknown one."""

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from accounts.models import Team, User
from alerts.models import AlertSource, Priority
from escalation.models import EscalationPolicy
from ilert import clock, readerzone
from ilert.errors import DomainError

MAX_DAYS = 1000
DEFAULT_DAYS = 30
GROUPS = ("", "source", "policy", "team", "assignee", "priority")
BUCKETS = ("day", "week")
# Filters that name another object of the tenant: {parameter: model}.
TENANT_FILTERS = {"source": AlertSource, "policy": EscalationPolicy, "team": Team, "assignee": User, "user": User}


class ParamError(DomainError):
    pass


@dataclass
class Params:
    tenant: object
    tz: zoneinfo.ZoneInfo
    first: date  # first day, inclusive
    last: date  # last day, inclusive
    group: str = ""
    bucket: str = "day"
    filters: dict = field(default_factory=dict)  # {name: object or priority string}

    @property
    def days(self):
        return (self.last - self.first).days + 1

    @property
    def start(self):
        return local_midnight(self.first, self.tz)

    @property
    def end(self):
        return local_midnight(self.last + timedelta(days=1), self.tz)

    def previous(self):
        return Params(self.tenant, self.tz, self.first - timedelta(days=self.days), self.first - timedelta(days=1),
                      self.group, self.bucket, self.filters)

    def query(self, **changes):
        """The query string of these filters (for links and the CSV export)."""
        values = {"from": self.first.isoformat(), "to": self.last.isoformat(), "tz": self.tz.key,
                  "group": self.group, "bucket": self.bucket}
        values.update({name: getattr(obj, "pk", obj) for name, obj in self.filters.items()})
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None)}


def local_midnight(day, tz):
    """00:00 of `day` in `tz` as an aware instant (midnight exists in every zone we know of; where a
    DST change skips it, fold=0 reads it with the offset before the change)."""
    return datetime.combine(day, time(0), tzinfo=tz)


FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9000, 12, 31)  # far from date's limits: ranges and previous periods fit


def _date(value, name):
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ParamError(f"{name} must be a date like 2026-03-01.", field=name) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ParamError(f"{name} must be between {FIRST_DAY} and {LAST_DAY}.", field=name)
    return day


def parse(query, *, tenant, user, allowed=()):
    """Params from a QueryDict (or dict). `allowed`: which object filters this report takes."""
    get = query.get
    zone = get("tz") or readerzone.zone_for(user).key  # the reader's zone: the same rule as every page
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a folder, or a huge name
        raise ParamError(f"Unknown time zone {zone[:100]!r}; use an IANA name such as Europe/Berlin.",
                         field="tz") from None
    today = clock.now().astimezone(tz).date()
    last = _date(get("to"), "to") if get("to") else today
    first = _date(get("from"), "from") if get("from") else last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ParamError("to may not be before from.", field="to")
    if (last - first).days + 1 > MAX_DAYS:
        raise ParamError(f"A report covers at most {MAX_DAYS} days.", field="from")
    group = get("group") or ""
    if group not in GROUPS:
        raise ParamError(f"group must be one of {', '.join(g for g in GROUPS if g)}.", field="group")
    bucket = get("bucket") or "day"
    if bucket not in BUCKETS:
        raise ParamError("bucket must be day or week.", field="bucket")
    filters = {}
    for name in allowed:
        value = get(name)
        if not value:
            continue
        if name == "priority":
            if value not in Priority.values:
                raise ParamError("priority must be HIGH or LOW.", field="priority")
            filters[name] = value
            continue
        try:
            if not value.isdigit() or int(value) >= 2**63:
                raise ValueError(value)
            filters[name] = TENANT_FILTERS[name].objects.get(tenant=tenant, pk=int(value))
        except (ValueError, TENANT_FILTERS[name].DoesNotExist):
            raise ParamError(f"Unknown {name}.", field=name) from None
    return Params(tenant, tz, first, last, group, bucket, filters)
