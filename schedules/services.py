"""Every change to schedules, layers, shifts, overrides and calendar feeds.

Who may do what: admins change schedules, layers and static shifts; responders create, change and
delete overrides for themselves ("take this shift"), admins for anyone; stakeholders change nothing.
The API and the dashboard enforce the coarse role check; the override rule lives here.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction

from accounts.models import Role, Team, User
from ilert.errors import Conflict, DomainError, Forbidden

from . import ical
from .inputs import check_time_zone, check_year, parse_instant, parse_wall
from .models import CalendarFeed, Layer, LayerMember, Override, Schedule, Shift
from .resolution import utc_to_wall, wall_to_utc
from .restrictions import normalize_restrictions

MAX_USERS_PER_LAYER = 100
MAX_LENGTH = {"hours": 24 * 366, "days": 366, "weeks": 52}


# --- checks ------------------------------------------------------------------------------------


def _check_span(start, end, field="end"):
    if end <= start:
        raise DomainError("The end must be after the start.", field=field)


def _check_user(tenant, user, field="user"):
    if not isinstance(user, User) or user.tenant_id != tenant.pk:
        raise DomainError("No such user in this organisation.", field=field)
    if not user.is_active:
        raise DomainError(f"{user.display_name} is deactivated.", field=field)
    return user


def _check_team(tenant, team):
    if team is not None and (not isinstance(team, Team) or team.tenant_id != tenant.pk):
        raise DomainError("No such team in this organisation.", field="team")


def _check_name(tenant, name, exclude=None):
    name = (name or "").strip()
    if not name:
        raise DomainError("A name is required.", field="name")
    if len(name) > 120:
        raise DomainError("At most 120 characters.", field="name")
    taken = Schedule.objects.filter(tenant=tenant, name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise Conflict(f"A schedule named {name!r} already exists.", field="name")
    return name


def _local(instant, tz):
    return f"{utc_to_wall(instant, tz):%Y-%m-%d %H:%M}"




# --- schedules ---------------------------------------------------------------------------------


@transaction.atomic
def create_schedule(tenant, *, name, timezone, kind=Schedule.Kind.RECURRING, description="", team=None):
    name = _check_name(tenant, name)
    check_time_zone(timezone)
    if kind not in Schedule.Kind.values:
        raise DomainError(f"kind is one of {', '.join(Schedule.Kind.values)}.", field="kind")
    _check_team(tenant, team)
    try:
        with transaction.atomic():
            return Schedule.objects.create(tenant=tenant, name=name, timezone=timezone, kind=kind,
                                           description=(description or "")[:2000], team=team)
    except IntegrityError:
        raise Conflict(f"A schedule named {name!r} already exists.", field="name") from None


_UNSET = object()


@transaction.atomic
def update_schedule(schedule, *, name=None, timezone=None, kind=None, description=None, team=_UNSET):
    if name is not None:
        schedule.name = _check_name(schedule.tenant, name, exclude=schedule)
    if timezone is not None:
        schedule.timezone = check_time_zone(timezone)
    if kind is not None and kind != schedule.kind:
        if kind not in Schedule.Kind.values:
            raise DomainError(f"kind is one of {', '.join(Schedule.Kind.values)}.", field="kind")
        if schedule.layers.exists() or schedule.shifts.exists():
            raise Conflict("Remove the layers or shifts before changing the kind of schedule.", field="kind")
        schedule.kind = kind
    if description is not None:
        schedule.description = description[:2000]
    if team is not _UNSET:
        _check_team(schedule.tenant, team)
        schedule.team = team
    schedule.save()
    return schedule


def delete_schedule(schedule):
    schedule.delete()


# --- layers ------------------------------------------------------------------------------------


def _check_length(count, unit):
    if unit not in Layer.Unit.values:
        raise DomainError(f"length_unit is one of {', '.join(Layer.Unit.values)}.", field="length_unit")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise DomainError("The rotation length is a whole number of at least 1.", field="length_count")
    if count > MAX_LENGTH[unit]:
        raise DomainError(f"At most {MAX_LENGTH[unit]} {unit}.", field="length_count")


def _check_users(tenant, users):
    users = list(users or [])
    if not users:
        raise DomainError("Add at least one user to the rotation.", field="users")
    if len(users) > MAX_USERS_PER_LAYER:
        raise DomainError(f"At most {MAX_USERS_PER_LAYER} users per layer.", field="users")
    for user in users:
        _check_user(tenant, user, field="users")
    return users


def _set_members(layer, users):
    LayerMember.objects.filter(layer=layer).delete()
    LayerMember.objects.bulk_create(
        [LayerMember(layer=layer, user=user, position=index) for index, user in enumerate(users)]
    )


def _locked(schedule):
    """Serialise changes to one schedule (overlap checks read, then write)."""
    return Schedule.objects.select_for_update().get(pk=schedule.pk)


@transaction.atomic
def create_layer(schedule, *, users, rotation_start, length_count=1, length_unit=Layer.Unit.WEEKS, name="",
                 end=None, restrictions=(), position=None):
    """A new rotation on top of the schedule's other layers (unless `position` says otherwise).
    `rotation_start` is the first handoff: a naive wall-clock datetime in the schedule's zone (an
    aware one is converted); `end` an instant (naive: wall clock in the schedule's zone)."""
    schedule = _locked(schedule)
    if schedule.is_static:
        raise Conflict("A static schedule has shifts, not layers.", field="schedule")
    tz = schedule.zone
    users = _check_users(schedule.tenant, users)
    wall = parse_wall(rotation_start, tz, "rotation_start")
    _check_length(length_count, length_unit)
    if end is not None:
        end = parse_instant(end, tz, "end")
        _check_span(wall_to_utc(wall, tz), end)
    restrictions = normalize_restrictions(list(restrictions or []))
    if position is None:
        last = schedule.layers.order_by("-position").values_list("position", flat=True).first()
        position = 0 if last is None else last + 1
    name = (name or "").strip()[:120] or f"Layer {schedule.layers.count() + 1}"
    layer = Layer.objects.create(
        tenant=schedule.tenant, schedule=schedule, name=name, position=position,
        start_date=wall.date(), handoff_time=wall.time(), length_count=length_count, length_unit=length_unit,
        end=end, restrictions=restrictions,
    )
    _set_members(layer, users)
    return layer


@transaction.atomic
def update_layer(layer, *, users=None, rotation_start=None, length_count=None, length_unit=None, name=None,
                 end=_UNSET, restrictions=None, position=None):
    _locked(layer.schedule)
    tz = layer.schedule.zone
    if name is not None:
        layer.name = name.strip()[:120] or layer.name
    if rotation_start is not None:
        wall = parse_wall(rotation_start, tz, "rotation_start")
        layer.start_date, layer.handoff_time = wall.date(), wall.time()
    count = layer.length_count if length_count is None else length_count
    unit = layer.length_unit if length_unit is None else length_unit
    _check_length(count, unit)
    layer.length_count, layer.length_unit = count, unit
    if end is not _UNSET:
        layer.end = None if end is None else parse_instant(end, tz, "end")
    if layer.end is not None:
        _check_span(wall_to_utc(layer.rotation_start, tz), layer.end)
    if restrictions is not None:
        layer.restrictions = normalize_restrictions(list(restrictions))
    if position is not None:
        layer.position = position
    layer.save()
    if users is not None:
        _set_members(layer, _check_users(layer.tenant, users))
    return layer


def delete_layer(layer):
    layer.delete()


@transaction.atomic
def move_layer(layer, direction):
    """Swap the layer with its neighbour above ("up", wins over more) or below ("down")."""
    _locked(layer.schedule)
    ordered = list(Layer.objects.filter(schedule_id=layer.schedule_id).order_by("position", "id"))
    index = next(i for i, item in enumerate(ordered) if item.pk == layer.pk)
    other = index + (1 if direction == "up" else -1)
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, item in enumerate(ordered):
        if item.position != position:
            Layer.objects.filter(pk=item.pk).update(position=position)
    layer.refresh_from_db()
    return layer


# --- static shifts -----------------------------------------------------------------------------


def _check_no_overlap(schedule, start, end, exclude=None):
    clash = Shift.objects.filter(schedule=schedule, start__lt=end, end__gt=start).select_related("user")
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    other = clash.order_by("start").first()
    if other is not None:
        tz = schedule.zone
        raise Conflict(
            f"Overlaps the shift of {other.user.display_name} from {_local(other.start, tz)} to "
            f"{_local(other.end, tz)} ({schedule.timezone}); shifts of a static schedule must not overlap.",
            field="start",
        )


@transaction.atomic
def create_shift(schedule, *, user, start, end):
    schedule = _locked(schedule)
    if not schedule.is_static:
        raise Conflict("Shifts belong to static schedules; recurring schedules use layers.", field="schedule")
    tz = schedule.zone
    _check_user(schedule.tenant, user)
    start, end = parse_instant(start, tz, "start"), parse_instant(end, tz, "end")
    _check_span(start, end)
    _check_no_overlap(schedule, start, end)
    return Shift.objects.create(tenant=schedule.tenant, schedule=schedule, user=user, start=start, end=end)


@transaction.atomic
def update_shift(shift, *, user=None, start=None, end=None):
    schedule = _locked(shift.schedule)
    tz = schedule.zone
    if user is not None:
        shift.user = _check_user(schedule.tenant, user)
    if start is not None:
        shift.start = parse_instant(start, tz, "start")
    if end is not None:
        shift.end = parse_instant(end, tz, "end")
    _check_span(shift.start, shift.end)
    _check_no_overlap(schedule, shift.start, shift.end, exclude=shift)
    shift.save()
    return shift


def delete_shift(shift):
    shift.delete()


@transaction.atomic
def import_ics(schedule, data, *, replace=False):
    """Shifts from an uploaded iCalendar file (RFC 5545) into a static schedule, all or nothing.

    Each event becomes a shift of the user named by (in this order) its X-ILERT-USER-EMAIL, an
    ATTENDEE's email, an email in its SUMMARY or DESCRIPTION, or a SUMMARY equal to a user's name.
    Floating times and all-day dates are read in the schedule's zone. With `replace`, the
    schedule's existing shifts are deleted first; otherwise a clash with them is refused."""
    schedule = _locked(schedule)
    if not schedule.is_static:
        raise Conflict("Import into a static schedule; recurring schedules use layers.", field="file")
    tz = schedule.zone
    users = [u for u in User.objects.filter(tenant=schedule.tenant, is_active=True)]
    events = ical.parse_events(data, tz, users)
    for index, (start, end, _user) in enumerate(events):
        check_year(start, "file")
        check_year(end, "file")
        if index and start < events[index - 1][1]:
            previous = events[index - 1]
            raise DomainError(
                f"Events overlap: {previous[2].display_name} until {_local(previous[1], tz)} and "
                f"{_user.display_name} from {_local(start, tz)}; shifts of a static schedule must not overlap.",
                field="file",
            )
    if replace:
        Shift.objects.filter(schedule=schedule).delete()
    created = []
    for start, end, user in events:
        _check_no_overlap(schedule, start, end)
        created.append(Shift(tenant=schedule.tenant, schedule=schedule, user=user, start=start, end=end))
    return Shift.objects.bulk_create(created)


# --- overrides ---------------------------------------------------------------------------------


def may_override(by, user):
    """Refuse `by` changing an override of `user`: stakeholders never, responders only their own."""
    if by is None:
        return
    if by.role == Role.STAKEHOLDER:
        raise Forbidden("Stakeholders cannot change schedules.")
    if by.role != Role.ADMIN and user.pk != by.pk:
        raise Forbidden("Responders can create overrides only for themselves; ask an admin.", field="user")


@transaction.atomic
def create_override(schedule, *, user, start, end, by=None):
    """`user` is on call from `start` to `end` in `schedule`, above every layer and shift.
    Naive start/end are wall-clock times in the schedule's zone."""
    tz = schedule.zone
    _check_user(schedule.tenant, user)
    may_override(by, user)
    start, end = parse_instant(start, tz, "start"), parse_instant(end, tz, "end")
    _check_span(start, end)
    return Override.objects.create(tenant=schedule.tenant, schedule=schedule, user=user, start=start, end=end,
                                   created_by=by)


@transaction.atomic
def update_override(override, *, user=None, start=None, end=None, by=None):
    tz = override.schedule.zone
    may_override(by, override.user)
    if user is not None:
        _check_user(override.tenant, user)
        may_override(by, user)
        override.user = user
    if start is not None:
        override.start = parse_instant(start, tz, "start")
    if end is not None:
        override.end = parse_instant(end, tz, "end")
    _check_span(override.start, override.end)
    override.save()
    return override


def delete_override(override, *, by=None):
    may_override(by, override.user)
    override.delete()


# --- calendar feeds ----------------------------------------------------------------------------


def _token():
    return secrets.token_urlsafe(32)


def _feed(tenant, *, schedule=None, user, regenerate=False):
    lookup = {"schedule": schedule} if schedule is not None else {"user": user, "schedule__isnull": True}
    with transaction.atomic():
        feed = CalendarFeed.objects.select_for_update().filter(**lookup).first()
        if feed is None:
            try:
                with transaction.atomic():
                    feed = CalendarFeed(tenant=tenant, schedule=schedule, user=user)
                    feed.set_token(_token())
                    feed.save()
                    return feed
            except IntegrityError:  # created concurrently
                return CalendarFeed.objects.get(**lookup)
        if regenerate:
            feed.set_token(_token())
            feed.save(update_fields=["token_hash", "token_encrypted"])
        return feed


def schedule_feed(schedule, *, by, regenerate=False):
    """The secret feed of a schedule's final timeline (created on first use). `regenerate` gives
    it a new URL, so the old one stops working."""
    if not by.can_write:
        raise Forbidden("Stakeholders cannot create calendar links.")
    return _feed(schedule.tenant, schedule=schedule, user=by, regenerate=regenerate)


def personal_feed(user, *, regenerate=False):
    """The secret feed of `user`'s own shifts across all schedules."""
    return _feed(user.tenant, user=user, regenerate=regenerate)


def revoke_feed(feed):
    feed.delete()


def feed_window(now):
    """The span a feed covers: from 30 days ago to 180 days ahead, in whole UTC hours."""
    base = now.replace(minute=0, second=0, microsecond=0)
    return base - timedelta(days=ical.FEED_PAST_DAYS), base + timedelta(days=ical.FEED_FUTURE_DAYS)
