"""Schedules, layers, overrides and static shifts for tests; registered for the tenancy sweep."""

from datetime import UTC, datetime, timedelta

from schedules import services
from schedules.models import Layer, Override, Schedule, Shift
from tests.factories import UserFactory, register


def make_schedule(tenant, *, name=None, tz="Europe/Berlin", kind="recurring", **kwargs):
    name = name or f"Schedule {Schedule.objects.count() + 1}"
    return services.create_schedule(tenant, name=name, timezone=tz, kind=kind, **kwargs)


def make_layer(schedule, users=None, *, rotation_start=datetime(2025, 1, 6, 9, 0), length_count=1,
               length_unit="weeks", **kwargs):
    users = users or [UserFactory(tenant=schedule.tenant)]
    return services.create_layer(schedule, users=users, rotation_start=rotation_start, length_count=length_count,
                                 length_unit=length_unit, **kwargs)


def make_override(schedule, user=None, *, start=None, end=None):
    user = user or UserFactory(tenant=schedule.tenant)
    start = start or datetime(2025, 3, 1, 12, tzinfo=UTC)
    return services.create_override(schedule, user=user, start=start, end=end or start + timedelta(hours=6))


def make_shift(schedule, user=None, *, start=None, end=None):
    user = user or UserFactory(tenant=schedule.tenant)
    start = start or datetime(2025, 3, 1, 8, tzinfo=UTC)
    return services.create_shift(schedule, user=user, start=start, end=end or start + timedelta(hours=12))


register(Schedule, lambda tenant: make_schedule(tenant))
register(Layer, lambda tenant: make_layer(make_schedule(tenant)))
register(Override, lambda tenant: make_override(make_schedule(tenant)))
register(Shift, lambda tenant: make_shift(make_schedule(tenant, kind="static")))
