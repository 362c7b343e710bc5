"""Daylight saving: handoffs stay at wall-clock times; a shift across a change is 23 or 25 hours;
a handoff at a wall time that does not exist moves forward by the gap; one at a wall time that
exists twice takes the first occurrence. Every expected instant below was worked out by hand from
the zone's offsets (not computed with zoneinfo), so the tests check the rule, not the library."""

from datetime import UTC, datetime, timedelta

import pytest

from schedules import selectors
from tests.factories import UserFactory

from .factories import make_layer, make_schedule

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def people(tenant):
    return [UserFactory(tenant=tenant, name=name) for name in ("Ann", "Ben", "Cat")]


def handoffs(schedule, start, end):
    return [s.start for s in selectors.timeline(schedule, start, end)]


def durations(schedule, start, end):
    return [s.end - s.start for s in selectors.timeline(schedule, start, end)]


# zone, rotation start (wall), length, window (UTC), expected handoff instants (UTC)
CASES = {
    # Europe/Berlin: CET +01 → CEST +02 on 2025-03-30 at 02:00; back on 2025-10-26 at 03:00.
    "berlin daily 09:00 over spring-forward": (
        "Europe/Berlin", datetime(2025, 3, 28, 9, 0), (1, "days"), (utc(2025, 3, 28, 12), utc(2025, 4, 1, 0)),
        [utc(2025, 3, 29, 8), utc(2025, 3, 30, 7), utc(2025, 3, 31, 7)],
    ),
    "berlin daily 09:00 over fall-back": (
        "Europe/Berlin", datetime(2025, 10, 24, 9, 0), (1, "days"), (utc(2025, 10, 24, 12), utc(2025, 10, 28, 0)),
        [utc(2025, 10, 25, 7), utc(2025, 10, 26, 8), utc(2025, 10, 27, 8)],
    ),
    "berlin daily 02:30 (skipped that day) moves forward to 03:30": (
        "Europe/Berlin", datetime(2025, 3, 28, 2, 30), (1, "days"), (utc(2025, 3, 28, 12), utc(2025, 4, 1, 0)),
        [utc(2025, 3, 29, 1, 30), utc(2025, 3, 30, 1, 30), utc(2025, 3, 31, 0, 30)],
    ),
    "berlin daily 02:30 (twice that day) takes the first": (
        "Europe/Berlin", datetime(2025, 10, 24, 2, 30), (1, "days"), (utc(2025, 10, 24, 12), utc(2025, 10, 28, 0)),
        [utc(2025, 10, 25, 0, 30), utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)],
    ),
    "berlin weekly sunday 02:30 over spring-forward": (
        "Europe/Berlin", datetime(2025, 3, 23, 2, 30), (1, "weeks"), (utc(2025, 3, 23, 12), utc(2025, 4, 7, 0)),
        [utc(2025, 3, 30, 1, 30), utc(2025, 4, 6, 0, 30)],
    ),
    "berlin weekly sunday 02:30 over fall-back": (
        "Europe/Berlin", datetime(2025, 10, 19, 2, 30), (1, "weeks"), (utc(2025, 10, 19, 12), utc(2025, 11, 3, 0)),
        [utc(2025, 10, 26, 0, 30), utc(2025, 11, 2, 1, 30)],
    ),
    "berlin 12-hour from 02:30 over spring-forward": (
        "Europe/Berlin", datetime(2025, 3, 29, 2, 30), (12, "hours"), (utc(2025, 3, 29, 2), utc(2025, 3, 31, 0)),
        [utc(2025, 3, 29, 13, 30), utc(2025, 3, 30, 1, 30), utc(2025, 3, 30, 12, 30)],
    ),
    "berlin 12-hour from 02:30 over fall-back": (
        "Europe/Berlin", datetime(2025, 10, 25, 2, 30), (12, "hours"), (utc(2025, 10, 25, 1), utc(2025, 10, 27, 0)),
        [utc(2025, 10, 25, 12, 30), utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 13, 30)],
    ),
    # America/New_York: EST -05 → EDT -04 on 2025-03-09 at 02:00; back on 2025-11-02 at 02:00.
    "new york daily 09:00 over spring-forward": (
        "America/New_York", datetime(2025, 3, 7, 9, 0), (1, "days"), (utc(2025, 3, 7, 18), utc(2025, 3, 11, 0)),
        [utc(2025, 3, 8, 14), utc(2025, 3, 9, 13), utc(2025, 3, 10, 13)],
    ),
    "new york daily 02:30 (skipped) moves forward to 03:30": (
        "America/New_York", datetime(2025, 3, 7, 2, 30), (1, "days"), (utc(2025, 3, 7, 18), utc(2025, 3, 11, 0)),
        [utc(2025, 3, 8, 7, 30), utc(2025, 3, 9, 7, 30), utc(2025, 3, 10, 6, 30)],
    ),
    "new york daily 01:30 (twice) takes the first": (
        "America/New_York", datetime(2025, 10, 31, 1, 30), (1, "days"), (utc(2025, 10, 31, 12), utc(2025, 11, 4, 0)),
        [utc(2025, 11, 1, 5, 30), utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30)],
    ),
    "new york weekly sunday 01:30 over fall-back": (
        "America/New_York", datetime(2025, 10, 26, 1, 30), (1, "weeks"), (utc(2025, 10, 26, 12), utc(2025, 11, 10, 0)),
        [utc(2025, 11, 2, 5, 30), utc(2025, 11, 9, 6, 30)],
    ),
    "new york 12-hour from 09:00 over spring-forward": (
        "America/New_York", datetime(2025, 3, 8, 9, 0), (12, "hours"), (utc(2025, 3, 8, 15), utc(2025, 3, 10, 0)),
        [utc(2025, 3, 9, 2), utc(2025, 3, 9, 13)],
    ),
    # Australia/Sydney (southern hemisphere): AEDT +11 → AEST +10 on 2025-04-06 at 03:00 (02:00–03:00
    # twice); AEST → AEDT on 2025-10-05 at 02:00 (02:00–03:00 skipped).
    "sydney daily 09:00 over the april fall-back": (
        "Australia/Sydney", datetime(2025, 4, 4, 9, 0), (1, "days"), (utc(2025, 4, 4, 0), utc(2025, 4, 7, 0)),
        [utc(2025, 4, 4, 22), utc(2025, 4, 5, 23), utc(2025, 4, 6, 23)],
    ),
    "sydney daily 09:00 over the october spring-forward": (
        "Australia/Sydney", datetime(2025, 10, 3, 9, 0), (1, "days"), (utc(2025, 10, 3, 0), utc(2025, 10, 6, 0)),
        [utc(2025, 10, 3, 23), utc(2025, 10, 4, 22), utc(2025, 10, 5, 22)],
    ),
    "sydney daily 02:30 (skipped in october) moves forward to 03:30": (
        "Australia/Sydney", datetime(2025, 10, 3, 2, 30), (1, "days"), (utc(2025, 10, 3, 0), utc(2025, 10, 6, 0)),
        [utc(2025, 10, 3, 16, 30), utc(2025, 10, 4, 16, 30), utc(2025, 10, 5, 15, 30)],
    ),
    "sydney daily 02:30 (twice in april) takes the first": (
        "Australia/Sydney", datetime(2025, 4, 4, 2, 30), (1, "days"), (utc(2025, 4, 4, 0), utc(2025, 4, 7, 0)),
        [utc(2025, 4, 4, 15, 30), utc(2025, 4, 5, 15, 30), utc(2025, 4, 6, 16, 30)],
    ),
    "sydney weekly sunday 02:30 over the october spring-forward": (
        "Australia/Sydney", datetime(2025, 9, 28, 2, 30), (1, "weeks"), (utc(2025, 9, 28, 0), utc(2025, 10, 13, 0)),
        [utc(2025, 10, 4, 16, 30), utc(2025, 10, 11, 15, 30)],
    ),
    "sydney 12-hour from 02:30 over the april fall-back": (
        "Australia/Sydney", datetime(2025, 4, 5, 2, 30), (12, "hours"), (utc(2025, 4, 5, 0), utc(2025, 4, 7, 0)),
        [utc(2025, 4, 5, 3, 30), utc(2025, 4, 5, 15, 30), utc(2025, 4, 6, 4, 30), utc(2025, 4, 6, 16, 30)],
    ),
    # Asia/Kolkata: +05:30 all year; nothing moves on other zones' change days.
    "kolkata daily 09:00 never moves": (
        "Asia/Kolkata", datetime(2025, 3, 28, 9, 0), (1, "days"), (utc(2025, 3, 28, 12), utc(2025, 4, 1, 0)),
        [utc(2025, 3, 29, 3, 30), utc(2025, 3, 30, 3, 30), utc(2025, 3, 31, 3, 30)],
    ),
    "kolkata 12-hour from 02:30": (
        "Asia/Kolkata", datetime(2025, 10, 25, 2, 30), (12, "hours"), (utc(2025, 10, 25, 0), utc(2025, 10, 26, 12)),
        [utc(2025, 10, 25, 9), utc(2025, 10, 25, 21), utc(2025, 10, 26, 9)],
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_handoffs_happen_at_wall_clock_times_by_the_documented_rule(tenant, people, case):
    zone, rotation_start, (count, unit), (start, end), expected = CASES[case]
    schedule = make_schedule(tenant, tz=zone)
    make_layer(schedule, people, rotation_start=rotation_start, length_count=count, length_unit=unit)
    assert handoffs(schedule, start, end)[1:] == expected
    segments = selectors.timeline(schedule, start, end)
    # one user at a time, no gaps, no overlaps: every segment ends where the next starts
    assert all(a.end == b.start for a, b in zip(segments, segments[1:], strict=False))
    # on_call agrees just before and at each handoff
    for before, after in zip(segments, segments[1:], strict=False):
        assert selectors.on_call(schedule, after.start - timedelta(microseconds=1)) == before.user
        assert selectors.on_call(schedule, after.start) == after.user


def test_a_daily_shift_across_spring_forward_lasts_23_hours_and_across_fall_back_25(tenant, people):
    schedule = make_schedule(tenant, tz="Europe/Berlin")
    make_layer(schedule, people, rotation_start=datetime(2025, 1, 1, 9, 0), length_unit="days")
    spring = durations(schedule, utc(2025, 3, 29, 8), utc(2025, 3, 31, 7))
    assert spring == [timedelta(hours=23), timedelta(hours=24)]
    fall = durations(schedule, utc(2025, 10, 25, 7), utc(2025, 10, 27, 8))
    assert fall == [timedelta(hours=25), timedelta(hours=24)]


def test_a_weekly_shift_across_a_change_is_one_hour_shorter_or_longer(tenant, people):
    schedule = make_schedule(tenant, tz="America/New_York")
    make_layer(schedule, people, rotation_start=datetime(2025, 3, 3, 9, 0), length_unit="weeks")
    assert durations(schedule, utc(2025, 3, 3, 14), utc(2025, 3, 17, 13)) == [timedelta(hours=167), timedelta(hours=168)]
    assert durations(schedule, utc(2025, 10, 27, 13), utc(2025, 11, 10, 14)) == [timedelta(hours=169), timedelta(hours=168)]


def test_inside_the_repeated_hour_the_new_user_is_on_call_on_both_passes(tenant, people):
    schedule = make_schedule(tenant, tz="Europe/Berlin")
    make_layer(schedule, people, rotation_start=datetime(2025, 10, 25, 2, 30), length_unit="days")
    # 2025-10-26 02:45 happens at 00:45Z (CEST) and again at 01:45Z (CET); the handoff was at 00:30Z
    assert selectors.on_call(schedule, utc(2025, 10, 26, 0, 29)) == people[0]
    assert selectors.on_call(schedule, utc(2025, 10, 26, 0, 45)) == people[1]
    assert selectors.on_call(schedule, utc(2025, 10, 26, 1, 45)) == people[1]


def test_a_night_restriction_is_one_hour_shorter_on_the_spring_forward_night(tenant, people):
    schedule = make_schedule(tenant, tz="Europe/Berlin")
    make_layer(schedule, people[:1], rotation_start=datetime(2025, 1, 1, 12, 0), length_unit="days",
               restrictions=[{"type": "time_of_day", "start": "18:00", "end": "08:00"}])
    nights = selectors.timeline(schedule, utc(2025, 3, 28, 12), utc(2025, 3, 31, 12))
    assert [(s.start, s.end) for s in nights] == [
        (utc(2025, 3, 28, 17), utc(2025, 3, 29, 7)),  # 18:00 CET – 08:00 CET: 14 h
        (utc(2025, 3, 29, 17), utc(2025, 3, 30, 6)),  # 18:00 CET – 08:00 CEST: 13 h
        (utc(2025, 3, 30, 16), utc(2025, 3, 31, 6)),  # 18:00 CEST – 08:00 CEST: 14 h
    ]


def test_a_window_starting_in_the_skipped_hour_starts_when_the_clock_reaches_it(tenant, people):
    schedule = make_schedule(tenant, tz="America/New_York")
    make_layer(schedule, people[:1], rotation_start=datetime(2025, 1, 1), length_unit="days",
               restrictions=[{"type": "time_of_day", "start": "02:30", "end": "04:00"}])
    spring = selectors.timeline(schedule, utc(2025, 3, 9, 0), utc(2025, 3, 9, 12))
    assert [(s.start, s.end) for s in spring] == [(utc(2025, 3, 9, 7, 30), utc(2025, 3, 9, 8))]
