"""Who is on call: rotations, stacked layers, restrictions, overrides, static shifts, through the
selectors other apps use (schedules.selectors.on_call / timeline / upcoming_shifts)."""

from datetime import UTC, datetime, timedelta

import pytest

from schedules import selectors, services
from tests.factories import UserFactory

from .factories import make_layer, make_schedule

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def people(tenant):
    return [UserFactory(tenant=tenant, name=name) for name in ("Ann", "Ben", "Cat", "Dan")]


def names(segments):
    return [(s.user.name, s.start, s.end) for s in segments]


def test_a_weekly_rotation_hands_off_every_week_in_order(tenant, people):
    schedule = make_schedule(tenant, tz="UTC")
    make_layer(schedule, people[:3], rotation_start=datetime(2025, 1, 6, 9, 0))
    assert selectors.on_call(schedule, utc(2025, 1, 6, 9, 0)) == people[0]
    assert selectors.on_call(schedule, utc(2025, 1, 13, 8, 59)) == people[0]
    assert selectors.on_call(schedule, utc(2025, 1, 13, 9, 0)) == people[1]
    assert selectors.on_call(schedule, utc(2025, 1, 20, 9, 0)) == people[2]
    assert selectors.on_call(schedule, utc(2025, 1, 27, 9, 0)) == people[0]


def test_nobody_is_on_call_before_the_rotation_starts_or_after_the_layer_ends(tenant, people):
    schedule = make_schedule(tenant, tz="UTC")
    make_layer(schedule, people[:2], rotation_start=datetime(2025, 1, 6, 9, 0), end=utc(2025, 1, 20, 9, 0))
    assert selectors.on_call(schedule, utc(2025, 1, 6, 8, 59)) is None
    assert selectors.on_call(schedule, utc(2025, 1, 20, 8, 59)) == people[1]
    assert selectors.on_call(schedule, utc(2025, 1, 20, 9, 0)) is None
    assert names(selectors.timeline(schedule, utc(2025, 1, 1), utc(2025, 2, 1))) == [
        ("Ann", utc(2025, 1, 6, 9), utc(2025, 1, 13, 9)),
        ("Ben", utc(2025, 1, 13, 9), utc(2025, 1, 20, 9)),
    ]


def test_any_rotation_length_works_every_three_days_and_every_eight_hours(tenant, people):
    schedule = make_schedule(tenant, tz="UTC")
    make_layer(schedule, people[:2], rotation_start=datetime(2025, 1, 1, 0, 0), length_count=3, length_unit="days")
    assert [s.start for s in selectors.timeline(schedule, utc(2025, 1, 1), utc(2025, 1, 10))] == [
        utc(2025, 1, 1), utc(2025, 1, 4), utc(2025, 1, 7)]
    shifts = make_schedule(tenant, tz="UTC")
    make_layer(shifts, people[:3], rotation_start=datetime(2025, 1, 1, 6, 0), length_count=8, length_unit="hours")
    assert names(selectors.timeline(shifts, utc(2025, 1, 1, 6), utc(2025, 1, 2, 6))) == [
        ("Ann", utc(2025, 1, 1, 6), utc(2025, 1, 1, 14)),
        ("Ben", utc(2025, 1, 1, 14), utc(2025, 1, 1, 22)),
        ("Cat", utc(2025, 1, 1, 22), utc(2025, 1, 2, 6)),
    ]


def test_a_single_user_rotation_is_one_segment(tenant, people):
    schedule = make_schedule(tenant, tz="UTC")
    make_layer(schedule, people[:1], rotation_start=datetime(2025, 1, 1, 9, 0), length_unit="days")
    assert names(selectors.timeline(schedule, utc(2025, 1, 2), utc(2025, 1, 9))) == [
        ("Ann", utc(2025, 1, 2), utc(2025, 1, 9))]


def test_a_time_of_day_restriction_crossing_midnight_leaves_the_day_uncovered(tenant, people):
    schedule = make_schedule(tenant, tz="UTC")
    make_layer(schedule, people[:2], rotation_start=datetime(2025, 1, 6, 9, 0), length_unit="weeks",
               restrictions=[{"type": "time_of_day", "start": "18:00", "end": "08:00"}])
    assert selectors.on_call(schedule, utc(2025, 1, 7, 12, 0)) is None
    assert selectors.on_call(schedule, utc(2025, 1, 7, 18, 0)) == people[0]
    assert selectors.on_call(schedule, utc(2025, 1, 8, 7, 59)) == people[0]
    assert selectors.on_call(schedule, utc(2025, 1, 8, 8, 0)) is None
    # the handoff at Monday 09:00 falls outside the window: Ben's first night is Monday 18:00
    assert names(selectors.timeline(schedule, utc(2025, 1, 12, 12), utc(2025, 1, 14, 12))) == [
        ("Ann", utc(2025, 1, 12, 18), utc(2025, 1, 13, 8)),
        ("Ben", utc(2025, 1, 13, 18), utc(2025, 1, 14, 8)),
    ]


def test_a_time_of_week_restriction_covers_office_hours_only(tenant, people):
    schedule = make_schedule(tenant, tz="UTC")
    make_layer(schedule, people[:1], rotation_start=datetime(2025, 1, 6, 0, 0), length_unit="weeks",
               restrictions=[{"type": "time_of_week", "start_day": "mon", "start": "09:00",
                              "end_day": "fri", "end": "17:00"}])
    week = selectors.timeline(schedule, utc(2025, 1, 6), utc(2025, 1, 13))
    assert names(week) == [("Ann", utc(2025, 1, 6, 9), utc(2025, 1, 10, 17))]
    assert selectors.on_call(schedule, utc(2025, 1, 11, 12)) is None  # Saturday


def test_a_weekend_window_wraps_around_the_end_of_the_week(tenant, people):
    schedule = make_schedule(tenant, tz="UTC")
    make_layer(schedule, people[:1], rotation_start=datetime(2025, 1, 1, 0, 0), length_unit="days",
               restrictions=[{"type": "time_of_week", "start_day": "fri", "start": "17:00",
                              "end_day": "mon", "end": "09:00"}])
    assert names(selectors.timeline(schedule, utc(2025, 1, 6), utc(2025, 1, 14))) == [
        ("Ann", utc(2025, 1, 6), utc(2025, 1, 6, 9)),
        ("Ann", utc(2025, 1, 10, 17), utc(2025, 1, 13, 9)),
    ]


def test_the_higher_layer_wins_and_lower_layers_fill_its_gaps(tenant, people):
    schedule = make_schedule(tenant, tz="UTC")
    base = make_layer(schedule, people[:1], name="Base", rotation_start=datetime(2025, 1, 1), length_unit="days")
    nights = make_layer(schedule, people[1:2], name="Nights", rotation_start=datetime(2025, 1, 1), length_unit="days",
                        restrictions=[{"type": "time_of_day", "start": "20:00", "end": "06:00"}])
    assert nights.position > base.position
    segments = selectors.timeline(schedule, utc(2025, 1, 2), utc(2025, 1, 3))
    assert [(s.user.name, s.start.hour, s.end.hour, s.source.name) for s in segments] == [
        ("Ben", 0, 6, "Nights"), ("Ann", 6, 20, "Base"), ("Ben", 20, 0, "Nights")]
    services.move_layer(nights, "down")
    assert selectors.on_call(schedule, utc(2025, 1, 2, 22)) == people[0]


def test_an_override_wins_over_every_layer(tenant, people):
    schedule = make_schedule(tenant, tz="UTC")
    make_layer(schedule, people[:2], rotation_start=datetime(2025, 1, 1), length_unit="days")
    override = services.create_override(schedule, user=people[3], start=utc(2025, 1, 1, 12), end=utc(2025, 1, 2, 12))
    assert selectors.on_call(schedule, utc(2025, 1, 1, 12)) == people[3]
    assert selectors.on_call(schedule, utc(2025, 1, 2, 11, 59)) == people[3]
    assert selectors.on_call(schedule, utc(2025, 1, 2, 12)) == people[1]
    segment = selectors.on_call_segment(schedule, utc(2025, 1, 1, 13))
    assert (segment.source.kind, segment.source.id) == ("override", override.pk)


def test_the_later_override_wins_where_overrides_overlap(tenant, people):
    schedule = make_schedule(tenant, tz="UTC")
    services.create_override(schedule, user=people[0], start=utc(2025, 1, 1, 0), end=utc(2025, 1, 1, 12))
    services.create_override(schedule, user=people[1], start=utc(2025, 1, 1, 6), end=utc(2025, 1, 1, 8))
    assert names(selectors.timeline(schedule, utc(2025, 1, 1), utc(2025, 1, 2))) == [
        ("Ann", utc(2025, 1, 1, 0), utc(2025, 1, 1, 6)),
        ("Ben", utc(2025, 1, 1, 6), utc(2025, 1, 1, 8)),
        ("Ann", utc(2025, 1, 1, 8), utc(2025, 1, 1, 12)),
    ]


def test_a_static_schedule_follows_its_shifts_and_overrides(tenant, people):
    schedule = make_schedule(tenant, tz="UTC", kind="static")
    services.create_shift(schedule, user=people[0], start=utc(2025, 1, 1, 8), end=utc(2025, 1, 1, 20))
    services.create_shift(schedule, user=people[1], start=utc(2025, 1, 2, 8), end=utc(2025, 1, 2, 20))
    services.create_override(schedule, user=people[2], start=utc(2025, 1, 1, 19), end=utc(2025, 1, 1, 21))
    assert names(selectors.timeline(schedule, utc(2025, 1, 1), utc(2025, 1, 3))) == [
        ("Ann", utc(2025, 1, 1, 8), utc(2025, 1, 1, 19)),
        ("Cat", utc(2025, 1, 1, 19), utc(2025, 1, 1, 21)),
        ("Ben", utc(2025, 1, 2, 8), utc(2025, 1, 2, 20)),
    ]
    assert selectors.on_call(schedule, utc(2025, 1, 1, 22)) is None


def test_a_deactivated_users_turns_go_to_the_next_user_in_the_rotation(tenant, people, admin):
    schedule = make_schedule(tenant, tz="UTC")
    make_layer(schedule, people[:3], rotation_start=datetime(2025, 1, 1), length_unit="days")
    from accounts.services import deactivate_user

    deactivate_user(people[1], by=admin)
    assert [s.user.name for s in selectors.timeline(schedule, utc(2025, 1, 1), utc(2025, 1, 4))] == ["Ann", "Cat"]
    assert selectors.on_call(schedule, utc(2025, 1, 2, 12)) == people[2]


def test_timelines_are_clipped_to_the_window_and_repeatable(tenant, people):
    schedule = make_schedule(tenant, tz="Europe/Berlin")
    make_layer(schedule, people[:3], rotation_start=datetime(2025, 1, 6, 9, 0), length_unit="days")
    window = (utc(2025, 3, 1, 3, 17), utc(2025, 4, 2, 5))
    first = selectors.timeline(schedule, *window)
    assert first[0].start == window[0] and first[-1].end == window[1]
    assert first == selectors.timeline(schedule, *window)


def test_on_call_and_timeline_refuse_naive_datetimes(tenant):
    schedule = make_schedule(tenant)
    with pytest.raises(ValueError):
        selectors.on_call(schedule, datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        selectors.timeline(schedule, datetime(2025, 1, 1), utc(2025, 1, 2))


def test_on_call_many_answers_for_many_schedules_in_a_few_queries(tenant, people, django_assert_max_num_queries):
    items = []
    for index in range(10):
        schedule = make_schedule(tenant, tz="UTC")
        make_layer(schedule, [people[index % 4], people[(index + 1) % 4]], rotation_start=datetime(2025, 1, 1),
                   length_unit="days")
        items.append(schedule)
    services.create_override(items[0], user=people[3], start=utc(2025, 1, 1), end=utc(2025, 1, 2))
    with django_assert_max_num_queries(6):
        found = selectors.on_call_many(items, utc(2025, 1, 1, 12))
    assert found[items[0].pk].user == people[3]
    assert found[items[1].pk].user == people[1]


def test_upcoming_shifts_spans_all_schedules_of_the_tenant(tenant, other_tenant, people):
    primary = make_schedule(tenant, name="Primary", tz="UTC")
    make_layer(primary, [people[0], people[1]], rotation_start=datetime(2025, 1, 1), length_unit="days")
    secondary = make_schedule(tenant, name="Secondary", tz="UTC", kind="static")
    services.create_shift(secondary, user=people[0], start=utc(2025, 1, 2, 6), end=utc(2025, 1, 2, 9))
    elsewhere = make_schedule(other_tenant, name="Theirs", tz="UTC")
    make_layer(elsewhere, [UserFactory(tenant=other_tenant)], rotation_start=datetime(2025, 1, 1))
    shifts = selectors.upcoming_shifts(people[0], utc(2025, 1, 1), utc(2025, 1, 4))
    assert [(s.schedule.name, s.start, s.end) for s in shifts] == [
        ("Primary", utc(2025, 1, 1), utc(2025, 1, 2)),
        ("Secondary", utc(2025, 1, 2, 6), utc(2025, 1, 2, 9)),
        ("Primary", utc(2025, 1, 3), utc(2025, 1, 4)),
    ]
    assert selectors.upcoming_shifts(people[3], utc(2025, 1, 1), utc(2025, 1, 4)) == []


def test_current_and_next_says_until_when_and_who_is_next_in_a_gap(tenant, people):
    schedule = make_schedule(tenant, tz="UTC")
    make_layer(schedule, people[:2], rotation_start=datetime(2025, 1, 1), length_unit="days",
               restrictions=[{"type": "time_of_day", "start": "09:00", "end": "17:00"}])
    segment, until = selectors.current_and_next([schedule], utc(2025, 1, 1, 10))[schedule.pk]
    assert segment.user == people[0] and until == utc(2025, 1, 1, 17)
    segment, until = selectors.current_and_next([schedule], utc(2025, 1, 1, 20))[schedule.pk]
    assert segment is None and until == utc(2025, 1, 2, 9)
    # more than the horizon away: unknown
    far = make_schedule(tenant, tz="UTC")
    make_layer(far, people[:1], rotation_start=datetime(2025, 6, 1))
    assert selectors.current_and_next([far], utc(2025, 1, 1), horizon=timedelta(days=31))[far.pk] == (None, None)
