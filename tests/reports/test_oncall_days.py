"""Time on call kept per local day (reports/oncall.py): equal to the live computation over the whole
range after random schedules, overrides, shifts and changes to them (hypothesis), in the reader's
zone across DST; a change recomputes only the days it touches; tenancy."""

import contextlib
import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ilert.errors import Conflict
from reports import oncall
from reports.models import OnCallDay
from reports.params import local_midnight
from schedules import services
from schedules.models import Override, Schedule
from tests.factories import TenantFactory, UserFactory
from tests.schedules.factories import make_layer, make_override, make_schedule, make_shift

pytestmark = pytest.mark.django_db
BASE = datetime(2026, 3, 20, tzinfo=UTC)
ZONES = ["Europe/Berlin", "America/New_York", "UTC"]


def both(tenant, zone, first, last, users):
    tz = zoneinfo.ZoneInfo(zone)
    live = oncall.live_seconds(tenant, local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz), users)
    return oncall.seconds(tenant, tz, first, last, users), live


change = st.tuples(
    st.sampled_from(["override", "override", "delete_override", "layer", "shift", "zone"]),
    st.integers(0, 2),  # which user
    st.integers(0, 20 * 24),  # hours after BASE
    st.integers(1, 60),  # hours long
)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
@given(changes=st.lists(change, max_size=8), zone=st.sampled_from(ZONES), first=st.integers(0, 10),
       days=st.integers(1, 20), restricted=st.booleans())
def test_days_add_up_to_the_live_figure_after_changes(tenant, changes, zone, first, days, restricted):
    Schedule.objects.filter(tenant=tenant).delete()  # hypothesis reuses the test's database
    OnCallDay.objects.filter(tenant=tenant).delete()
    users = [UserFactory(tenant=tenant, role="responder") for _ in range(3)]
    ids = {u.pk for u in users}
    primary = make_schedule(tenant, tz="Europe/Berlin")
    make_layer(primary, users[:2], length_unit="days",
               restrictions=[{"type": "time_of_day", "start": "18:00", "end": "08:00"}] if restricted else [])
    secondary = make_schedule(tenant, tz="America/New_York")
    make_layer(secondary, users[1:], length_count=12, length_unit="hours")
    static = make_schedule(tenant, kind="static", tz="UTC")
    start = date(2026, 3, 20) + timedelta(days=first)
    last = start + timedelta(days=days - 1)
    cached, live = both(tenant, zone, start, last, ids)
    assert cached == live
    for kind, who, hours, length in changes:
        at = BASE + timedelta(hours=hours)
        if kind == "override":
            make_override(primary if hours % 2 else secondary, users[who], start=at, end=at + timedelta(hours=length))
        elif kind == "delete_override":
            Override.objects.filter(pk__in=Override.objects.filter(tenant=tenant).order_by("pk")[:1]).delete()
        elif kind == "layer":
            make_layer(primary, [users[who]], length_unit="days",
                       restrictions=[{"type": "time_of_week", "start_day": "sat", "start": "00:00", "end_day": "mon",
                                      "end": "00:00"}])
        elif kind == "zone":  # the schedule's own zone moves its handoffs and restrictions
            services.update_schedule(secondary, timezone=ZONES[who])
        else:
            with contextlib.suppress(Conflict):  # static shifts may not overlap
                make_shift(static, users[who], start=at, end=at + timedelta(hours=length))
        cached, live = both(tenant, zone, start, last, ids)
        assert cached == live, kind


def test_an_override_recomputes_only_the_days_it_touches(tenant):
    ann, bob = UserFactory(tenant=tenant), UserFactory(tenant=tenant)
    schedule = make_schedule(tenant)
    make_layer(schedule, [ann])
    tz = zoneinfo.ZoneInfo("Europe/Berlin")
    first, last = date(2026, 3, 1), date(2026, 3, 31)
    assert oncall.seconds(tenant, tz, first, last, {ann.pk, bob.pk}) == {ann.pk: (31 * 24 - 1) * 3600.0}
    before = dict(OnCallDay.objects.filter(tenant=tenant).values_list("day", "digest"))
    make_override(schedule, bob, start=datetime(2026, 3, 10, 22, tzinfo=UTC), end=datetime(2026, 3, 11, 2, tzinfo=UTC))
    result = oncall.seconds(tenant, tz, first, last, {ann.pk, bob.pk})
    assert result == {ann.pk: (31 * 24 - 1 - 4) * 3600.0, bob.pk: 4 * 3600.0}
    after = dict(OnCallDay.objects.filter(tenant=tenant).values_list("day", "digest"))
    assert {day for day in after if after[day] != before[day]} == {date(2026, 3, 10), date(2026, 3, 11)}
    # A layer edit changes every day.
    layer = schedule.layers.get()
    services.update_layer(layer, users=[bob])
    oncall.seconds(tenant, tz, first, last, {ann.pk, bob.pk})
    again = dict(OnCallDay.objects.filter(tenant=tenant).values_list("day", "digest"))
    assert all(again[day] != after[day] for day in again)
    assert oncall.seconds(tenant, tz, first, last, {ann.pk, bob.pk}) == {bob.pk: (31 * 24 - 1) * 3600.0}


def test_days_of_another_tenant_are_neither_read_nor_counted(tenant):
    tz = zoneinfo.ZoneInfo("Europe/Berlin")
    other = TenantFactory()
    stranger = UserFactory(tenant=other)
    make_layer(make_schedule(other), [stranger])
    ann = UserFactory(tenant=tenant)
    make_layer(make_schedule(tenant), [ann])
    first, last = date(2026, 3, 1), date(2026, 3, 3)
    assert oncall.seconds(other, tz, first, last, {stranger.pk}) == {stranger.pk: 72 * 3600.0}
    assert oncall.seconds(tenant, tz, first, last, {ann.pk, stranger.pk}) == {ann.pk: 72 * 3600.0}
    assert OnCallDay.objects.filter(tenant=tenant).count() == OnCallDay.objects.filter(tenant=other).count() == 3
