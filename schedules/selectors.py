"""Tenant-scoped reads and on-call resolution. Pure reads: nothing here writes.

Interfaces other apps use:
    on_call(schedule, at) -> User | None
    timeline(schedule, start, end) -> [Segment]       (schedules.resolution.Segment; no gap segments)
    upcoming_shifts(user, start, end) -> [UserShift]  (across all schedules of the user's tenant)
    schedules(tenant), get_schedule(tenant, pk)
The rules (DST, layer stacking, overrides) are documented in schedules.resolution.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from accounts.models import User
from ilert import secrets as ilert_secrets
from ilert.tenancy import get_for_tenant

from . import resolution
from .models import CalendarFeed, Layer, LayerMember, Override, Schedule, Shift
from .resolution import LayerRule, Plan, Resolution, Segment, Source, windows_from_json

__all__ = [
    "Segment", "Source", "UserShift", "schedules", "get_schedule", "layers", "get_layer", "overrides",
    "get_override", "shifts", "get_shift", "on_call", "on_call_segment", "on_call_many", "timeline",
    "resolve", "upcoming_shifts", "current_and_next",
]


# --- rows --------------------------------------------------------------------------------------


def schedules(tenant):
    return Schedule.objects.filter(tenant=tenant).select_related("team")


def get_schedule(tenant, pk):
    return get_for_tenant(schedules(tenant), tenant, pk=pk)


def layers(tenant):
    return Layer.objects.filter(tenant=tenant).select_related("schedule").prefetch_related("memberships__user")


def get_layer(tenant, pk):
    return get_for_tenant(layers(tenant), tenant, pk=pk)


def overrides(tenant):
    return Override.objects.filter(tenant=tenant).select_related("schedule", "user", "created_by")


def get_override(tenant, pk):
    return get_for_tenant(overrides(tenant), tenant, pk=pk)


def shifts(tenant):
    return Shift.objects.filter(tenant=tenant).select_related("schedule", "user")


def get_shift(tenant, pk):
    return get_for_tenant(shifts(tenant), tenant, pk=pk)


def schedule_feed(schedule):
    return CalendarFeed.objects.filter(schedule=schedule).first()


def personal_feed(user):
    return CalendarFeed.objects.filter(user=user, schedule__isnull=True).first()


def feed_by_token(token):
    """The feed a secret URL names, with its schedule or user, or None."""
    if not token or len(token) > 64:
        return None
    return (CalendarFeed.objects.select_related("schedule", "user", "tenant")
            .filter(token_hash=ilert_secrets.lookup_hash(token), tenant__isnull=False).first())


# --- loading rules -----------------------------------------------------------------------------

_ZONES: dict[str, zoneinfo.ZoneInfo] = {}


def _zone(name):
    zone = _ZONES.get(name)
    if zone is None:
        zone = _ZONES[name] = zoneinfo.ZoneInfo(name)
    return zone


def _aware(value, name):
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(resolution.UTC)


def _schedule_filter(items):
    if isinstance(items, QuerySet):
        return {"schedule_id__in": items.values("pk")}
    return {"schedule_id__in": [s.pk for s in items]}


def _layers(where):
    """The layers of the schedules (by schedule and position) and each layer's user ids in order."""
    layer_rows = list(
        Layer.objects.filter(**where)
        .order_by("schedule_id", "position", "id")
        .values_list("id", "schedule_id", "name", "start_date", "handoff_time", "length_count", "length_unit",
                     "end", "restrictions")
    )
    members = defaultdict(list)
    if layer_rows:
        member_rows = (LayerMember.objects.filter(layer__schedule_id__in=where["schedule_id__in"])
                       .order_by("layer_id", "position").values_list("layer_id", "user_id"))
        for layer_id, user_id in member_rows:
            members[layer_id].append(user_id)
    return layer_rows, members


def _timed_rows(where, start, end, static):
    """Overrides (and, for static schedules, shifts) touching [start, end), oldest first."""
    window = Q(start__lt=end, end__gt=start)
    override_rows = list(
        Override.objects.filter(window, **where).order_by("created_at", "id")
        .values_list("schedule_id", "start", "end", "user_id", "id")
    )
    shift_rows = []
    if static:
        shift_rows = list(
            Shift.objects.filter(window, **where).order_by("created_at", "id")
            .values_list("schedule_id", "start", "end", "user_id", "id")
        )
    return override_rows, shift_rows


def load_plans(items, start, end) -> dict[int, Plan]:
    """Plans for many schedules in five queries (layers, members, overrides, shifts, users).

    `items` is a list or queryset of schedules; overrides and shifts are those that touch
    [start, end)."""
    items = list(items) if not isinstance(items, QuerySet) else items
    plans = {}
    recurring, static = [], []
    for schedule in items:
        plans[schedule.pk] = Plan(tz=_zone(schedule.timezone))
        (static if schedule.kind == Schedule.Kind.STATIC else recurring).append(schedule.pk)
    if not plans:
        return plans
    where = _schedule_filter(items)
    layer_rows, members = _layers(where) if recurring else ([], {})
    override_rows, shift_rows = _timed_rows(where, start, end, static)
    user_ids = {user_id for users in members.values() for user_id in users}
    user_ids.update(row[3] for row in override_rows)
    user_ids.update(row[3] for row in shift_rows)
    users = User.objects.in_bulk(user_ids) if user_ids else {}
    active = {pk: user for pk, user in users.items() if user.is_active}

    recurring = set(recurring)
    for layer_id, schedule_id, name, start_date, handoff, count, unit, layer_end, restrictions in layer_rows:
        if schedule_id not in recurring:
            continue
        plans[schedule_id].layers.append(LayerRule(
            id=layer_id, name=name,
            anchor=datetime.combine(start_date, handoff),
            step=timedelta(**{unit: count}),
            users=[active.get(pk) for pk in members.get(layer_id, ())],
            windows=windows_from_json(restrictions),
            end=layer_end,
        ))
    for schedule_id, s, e, user_id, pk in override_rows:
        plans[schedule_id].overrides.append((s, e, active.get(user_id), pk))
    static = set(static)
    for schedule_id, s, e, user_id, pk in shift_rows:
        if schedule_id in static:
            plans[schedule_id].shifts.append((s, e, active.get(user_id), pk))
    return plans


def plan_for(schedule, start, end) -> Plan:
    return load_plans([schedule], start, end)[schedule.pk]


# --- on-call resolution ------------------------------------------------------------------------


def resolve(schedule, start, end) -> Resolution:
    """The final timeline of [start, end), each layer's own band (highest first) and the overrides."""
    start, end = _aware(start, "start"), _aware(end, "end")
    return resolution.resolve(plan_for(schedule, start, end), start, end)


def timeline(schedule, start, end) -> list[Segment]:
    """Who is on call in [start, end): non-overlapping segments sorted by start, clipped to the
    window, in UTC. Gaps are not segments (Segment.user is never None)."""
    start, end = _aware(start, "start"), _aware(end, "end")
    return resolution.timeline(plan_for(schedule, start, end), start, end)


def on_call_segment(schedule, at) -> Segment | None:
    at = _aware(at, "at")
    return resolution.on_call(plan_for(schedule, at, at + resolution.TICK), at)


def on_call(schedule, at) -> User | None:
    """The user on call in `schedule` at the aware instant `at`, or None (a gap)."""
    segment = on_call_segment(schedule, at)
    return segment.user if segment else None


def on_call_many(items, at) -> dict[int, Segment | None]:
    """{schedule id: segment in force at `at` or None} for many schedules, loaded in five queries."""
    at = _aware(at, "at")
    end = at + resolution.TICK
    plans = load_plans(items, at, end)
    return {pk: resolution.on_call(plan, at) for pk, plan in plans.items()}


def current_and_next(items, at, horizon=timedelta(days=31)):
    """For each schedule: (segment in force at `at` or None, the instant it ends or the next one
    starts — None when that is beyond `horizon`). Used by "who is on call now" lists."""
    at = _aware(at, "at")
    end = at + horizon
    plans = load_plans(items, at, end)
    out = {}
    for pk, plan in plans.items():
        final = resolution.timeline(plan, at, end)
        current = final[0] if final and final[0].start <= at else None
        if current is not None:
            until = current.end if current.end < end else None
        else:
            until = final[0].start if final else None
        out[pk] = (current, until)
    return out


@dataclass(frozen=True, slots=True)
class UserShift:
    """One stretch of a user's on-call time in one schedule."""

    schedule: Schedule
    user: User
    start: datetime
    end: datetime
    source: Source


def upcoming_shifts(user, start, end) -> list[UserShift]:
    """The user's on-call time in [start, end) across all schedules of their tenant, by start."""
    start, end = _aware(start, "start"), _aware(end, "end")
    candidates = (
        Schedule.objects.filter(tenant_id=user.tenant_id)
        .filter(Q(layers__memberships__user=user) | Q(overrides__user=user) | Q(shifts__user=user))
        .distinct()
    )
    items = list(candidates)
    plans = load_plans(items, start, end)
    out = []
    for schedule in items:
        for segment in resolution.timeline(plans[schedule.pk], start, end):
            if segment.user.pk == user.pk:
                out.append(UserShift(schedule, segment.user, segment.start, segment.end, segment.source))
    out.sort(key=lambda s: (s.start, s.schedule.name, s.schedule.pk))
    return out
