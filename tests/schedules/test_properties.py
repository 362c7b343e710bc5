"""Property tests (hypothesis) over random layers, restrictions and overrides in zones with and
without daylight saving, with windows near clock changes: segments never overlap, one user at a
time, on_call agrees with timeline and with a naive reference model of the rules at random
instants, overrides always win, results do not depend on the window asked for, and repeated runs
give identical output.

The first tests drive the pure engine (schedules.resolution) for many examples; the last one
builds real rows through schedules.services and reads them back through schedules.selectors."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedules import resolution, selectors, services
from tests.factories import UserFactory

from .factories import make_schedule
from .reference import LayerSpec, Spec, who

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC", "Australia/Lord_Howe",
         "Antarctica/Troll", "America/Santiago", "Europe/London", "Pacific/Chatham"]
# Clock changes in 2025 (UTC, roughly) that windows should often straddle.
CHANGES = [datetime(2025, m, d, tzinfo=UTC) for m, d in
           [(3, 9), (3, 30), (4, 6), (9, 7), (9, 28), (10, 5), (10, 26), (11, 2)]]
USERS = ["ann", "ben", "cat", "dan", "eve"]
TICK = timedelta(microseconds=1)


def _time_text(minutes):
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


quarter_hours = st.integers(0, 24 * 4 - 1).map(lambda q: q * 15)
# half the windows start in the skipped/repeated hours (01:00–03:59) to hit the DST rule
dst_minutes = st.one_of(quarter_hours, st.integers(60, 239))


@st.composite
def windows(draw):
    start, end = draw(dst_minutes), draw(dst_minutes)
    if draw(st.booleans()):
        if start == end:
            end = (end + 60) % 1440
        return {"type": "time_of_day", "start": _time_text(start), "end": _time_text(end)}
    start_day, end_day = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    if (start_day, start) == (end_day, end):
        end = (end + 60) % 1440
    return {"type": "time_of_week", "start_day": resolution.DAY_NAMES[start_day], "start": _time_text(start),
            "end_day": resolution.DAY_NAMES[end_day], "end": _time_text(end)}


lengths = st.one_of(
    st.tuples(st.integers(1, 36), st.just("hours")),
    st.tuples(st.integers(1, 8), st.just("days")),
    st.tuples(st.integers(1, 3), st.just("weeks")),
)


@st.composite
def layers(draw, anchor_near):
    users = draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=4))
    offset = draw(st.integers(-60 * 24 * 40, 60 * 24 * 10))  # minutes
    anchor = (anchor_near.replace(tzinfo=None) + timedelta(minutes=offset)).replace(second=0, microsecond=0)
    if draw(st.booleans()):  # handoffs inside the hours that DST skips or repeats
        anchor = anchor.replace(hour=draw(st.sampled_from([0, 1, 2, 3])), minute=draw(st.sampled_from([0, 30, 45])))
    count, unit = draw(lengths)
    restrictions = draw(st.lists(windows(), max_size=2))
    end = None
    if draw(st.integers(0, 3)) == 0:
        end = anchor_near + timedelta(minutes=draw(st.integers(-60 * 24 * 5, 60 * 24 * 20)))
    return {"users": users, "anchor": anchor, "count": count, "unit": unit, "restrictions": restrictions, "end": end}


@st.composite
def scenarios(draw):
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        start = draw(st.sampled_from(CHANGES)) - timedelta(minutes=draw(st.integers(0, 60 * 24 * 5)))
    else:
        start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 60 * 24 * 364)))
    start += timedelta(seconds=draw(st.sampled_from([0, 0, 0, 17])))
    length = timedelta(minutes=draw(st.integers(60, 60 * 24 * 16)))
    layer_specs = draw(st.lists(layers(start), min_size=0, max_size=3))
    overrides = []
    for _ in range(draw(st.integers(0, 5))):
        o_start = start + timedelta(minutes=draw(st.integers(-60 * 24, int(length.total_seconds() // 60))))
        o_end = o_start + timedelta(minutes=draw(st.integers(1, 60 * 24 * 3)))
        overrides.append((o_start, o_end, draw(st.sampled_from(USERS))))
    return {"zone": zone, "start": start, "end": start + length, "layers": layer_specs, "overrides": overrides}


def build_plan(scenario):
    tz = zoneinfo.ZoneInfo(scenario["zone"])
    rules = [
        resolution.LayerRule(
            id=index + 1, name=f"L{index + 1}", anchor=spec["anchor"],
            step=timedelta(**{spec["unit"]: spec["count"]}), users=list(spec["users"]),
            windows=resolution.windows_from_json(spec["restrictions"]), end=spec["end"],
        )
        for index, spec in enumerate(scenario["layers"])
    ]
    overrides = [(s, e, user, index + 1) for index, (s, e, user) in enumerate(scenario["overrides"])]
    return resolution.Plan(tz=tz, layers=rules, overrides=overrides)


def build_spec(scenario, users=None):
    users = users or {name: name for name in USERS}
    return Spec(
        tz=zoneinfo.ZoneInfo(scenario["zone"]),
        layers=[LayerSpec(users=[users[u] for u in spec["users"]], anchor=spec["anchor"],
                          step=timedelta(**{spec["unit"]: spec["count"]}), windows=spec["restrictions"],
                          end=spec["end"]) for spec in scenario["layers"]],
        overrides=[(s, e, users[u]) for s, e, u in scenario["overrides"]],
    )


def user_at(segments, t):
    for segment in segments:
        if segment.start <= t < segment.end:
            return segment.user
    return None


def instants(scenario, segments, draw_fraction):
    """Segment boundaries (and just before them), override edges and random instants."""
    start, end = scenario["start"], scenario["end"]
    points = {start, end - TICK}
    for segment in segments:
        points.update({segment.start, segment.end - TICK, segment.end})
    for s, e, _user in scenario["overrides"]:
        points.update({s, s - TICK, e, e - TICK})
    for fraction in draw_fraction:
        points.add(start + (end - start) * fraction)
    return sorted(p for p in points if start <= p < end)


def check_shape(segments, start, end):
    for segment in segments:
        assert segment.user is not None
        assert start <= segment.start < segment.end <= end, segment
    for a, b in zip(segments, segments[1:], strict=False):
        assert a.end <= b.start, f"overlap: {a} / {b}"
        assert not (a.end == b.start and a.user == b.user and a.source == b.source), f"unmerged: {a} / {b}"


FRACTIONS = st.lists(st.floats(0, 1, allow_nan=False), min_size=10, max_size=25)


@settings(max_examples=300, deadline=None)
@given(scenarios(), FRACTIONS)
def test_segments_never_overlap_and_agree_with_on_call_and_the_reference_model(scenario, fractions):
    plan = build_plan(scenario)
    spec = build_spec(scenario)
    start, end = scenario["start"], scenario["end"]
    segments = resolution.timeline(plan, start, end)
    check_shape(segments, start, end)
    for t in instants(scenario, segments, fractions):
        expected = who(spec, t)
        from_timeline = user_at(segments, t)
        found = resolution.on_call(plan, t)
        assert from_timeline == expected, (t, from_timeline, expected)
        assert (found.user if found else None) == expected, (t, found, expected)
        covering = [o for o in scenario["overrides"] if o[0] <= t < o[1]]
        if covering:  # overrides always win; the last-created one where they overlap
            assert from_timeline == covering[-1][2]


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.floats(0, 1), st.floats(0, 1))
def test_a_timeline_does_not_depend_on_the_window_or_the_run(scenario, f1, f2):
    plan = build_plan(scenario)
    start, end = scenario["start"], scenario["end"]
    full = resolution.timeline(plan, start, end)
    assert full == resolution.timeline(build_plan(scenario), start, end)  # identical across runs
    a, b = sorted([start + (end - start) * f1, start + (end - start) * f2])
    if b - a < TICK:
        return
    part = resolution.timeline(plan, a, b)
    clipped = [resolution.Segment(s.user, max(s.start, a), min(s.end, b), s.source)
               for s in full if s.end > a and s.start < b]
    assert part == clipped


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_an_unrestricted_layer_leaves_no_gaps_after_its_first_handoff(scenario):
    """No gaps the layers don't imply: one unrestricted layer covers everything from its first
    handoff to its end."""
    scenario = dict(scenario, overrides=[])
    if not scenario["layers"]:
        return
    scenario["layers"] = [dict(scenario["layers"][0], restrictions=[], end=None)]
    plan = build_plan(scenario)
    start, end = scenario["start"], scenario["end"]
    rule = plan.layers[0]
    first = max(start, resolution.wall_to_utc(rule.anchor, plan.tz))
    segments = resolution.timeline(plan, start, end)
    if first >= end:
        assert segments == []
        return
    assert segments[0].start == first and segments[-1].end == end
    assert all(a.end == b.start for a, b in zip(segments, segments[1:], strict=False))


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios(), fractions=FRACTIONS)
def test_real_schedules_resolve_like_the_reference_model(tenant, scenario, fractions):
    """The same properties through services (rows in the database) and the selectors other apps use."""
    users = {name: UserFactory(tenant=tenant, name=name) for name in USERS}
    schedule = make_schedule(tenant, tz=scenario["zone"])
    for spec in scenario["layers"]:
        services.create_layer(schedule, users=[users[u] for u in spec["users"]], rotation_start=spec["anchor"],
                              length_count=spec["count"], length_unit=spec["unit"],
                              restrictions=spec["restrictions"],
                              end=spec["end"] if spec["end"] is None or spec["end"] > resolution.wall_to_utc(
                                  spec["anchor"], schedule.zone) else None)
    for s, e, u in scenario["overrides"]:
        services.create_override(schedule, user=users[u], start=s, end=e)
    # what was stored (a layer end before its start is refused, so it was dropped above)
    stored = dict(scenario, layers=[dict(spec, end=layer.end) for spec, layer in
                                    zip(scenario["layers"], schedule.layers.order_by("position"), strict=True)])
    spec = build_spec(stored, users)
    start, end = scenario["start"], scenario["end"]
    segments = selectors.timeline(schedule, start, end)
    check_shape(segments, start, end)
    points = instants(scenario, segments, fractions)
    for t in points:
        assert user_at(segments, t) == who(spec, t), t
    for t in points[:: max(1, len(points) // 6)]:
        assert selectors.on_call(schedule, t) == who(spec, t), t
    assert selectors.timeline(schedule, start, end) == segments
