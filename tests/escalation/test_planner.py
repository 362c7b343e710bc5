"""The escalation decision (escalation.planner) on plain values: no database, no clock."""

from datetime import UTC, datetime, timedelta

from escalation.planner import (
    PAGE_ASSIGNEE,
    WAKE,
    Level,
    Policy,
    Target,
    chosen_policy,
    look_ahead,
    next_step,
    positions_after,
    reaction,
)

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
ANA = Target(1, "Ana", "named on the level", user="ana")
BEN = Target(2, "Ben", "member of team Ops", user="ben")
CY = Target(3, "Cy", "on call in Primary", user="cy")


def policy(*levels, repeat_count=0, name="Ops"):
    return Policy(id=7, name=name, repeat_count=repeat_count, levels=tuple(
        level if isinstance(level, Level) else Level(number, 5, tuple(level))
        for number, level in enumerate(levels, start=1)))


def names(step):
    return [page.target.name for page in step.pages]


def test_a_new_incident_pages_level_1_and_is_due_again_after_its_timeout():
    step = next_step(policy([ANA, BEN], [CY]), 0, 0, NOW)
    assert (step.level, step.round) == (1, 0)
    assert names(step) == ["Ana", "Ben"]
    assert step.next_at == NOW + timedelta(minutes=5)
    assert step.message == "Level 1 of 2: notified Ana, Ben"
    assert step.assignee == ANA and not step.ends


def test_each_page_says_why_and_carries_the_round_as_its_idempotency_tag():
    step = next_step(policy([CY]), 0, 0, NOW)
    assert [(page.target.user, page.round_tag, page.reason) for page in step.pages] == [
        ("cy", "r0", "escalation level 1: on call in Primary")]


def test_a_timeout_moves_to_the_next_level():
    step = next_step(policy([ANA], [BEN]), 1, 0, NOW)
    assert (step.level, names(step)) == (2, ["Ben"])


def test_a_zero_timeout_makes_the_next_step_due_at_once():
    step = next_step(policy(Level(1, 0, (ANA,)), [BEN]), 0, 0, NOW)
    assert step.next_at == NOW


def test_a_level_reaching_nobody_is_passed_at_once_and_says_why():
    empty = Level(2, 5, (), empty_schedules=("Primary", "Backup"))
    step = next_step(policy([ANA], empty, [CY]), 1, 0, NOW)
    assert (step.level, names(step)) == (3, ["Cy"])
    assert [(skip.level, skip.message) for skip in step.skipped] == [
        (2, "Level 2 reaches nobody (nobody on call in Primary, Backup): escalating at once.")]


def test_after_the_last_level_the_policy_repeats_while_repeats_remain():
    ops = policy([ANA], [BEN], repeat_count=1)
    step = next_step(ops, 2, 0, NOW)
    assert (step.level, step.round, names(step)) == (1, 1, ["Ana"])
    assert step.message == "Level 1 of 2, round 2: notified Ana"
    assert [page.round_tag for page in step.pages] == ["r1"]


def test_after_the_last_round_escalation_ends_where_it_is():
    step = next_step(policy([ANA], [BEN], repeat_count=1), 2, 1, NOW)
    assert step.ends and (step.level, step.round) == (2, 1) and not step.pages
    assert step.message == "Escalation stopped after 2 rounds of Ops: nobody accepted."


def test_one_round_is_said_in_the_singular():
    assert next_step(policy([ANA]), 1, 0, NOW).message == "Escalation stopped after 1 round of Ops: nobody accepted."


def test_round_robin_pages_one_target_per_round_in_turn():
    ops = policy(Level(1, 5, (ANA, BEN, CY), round_robin=True), repeat_count=3)
    turns = [names(next_step(ops, 1, round_, NOW)) for round_ in range(3)]
    assert turns == [["Ben"], ["Cy"], ["Ana"]]  # from level 1 of round r, the next step is round r + 1


def test_a_policy_reaching_nobody_at_all_is_walked_through_once_and_says_so():
    ops = policy([], [], repeat_count=2)
    step = next_step(ops, 0, 0, NOW)
    assert step.ends and step.level == 0
    assert step.message == "Nobody can be reached through escalation policy Ops: no level has anyone to page."
    assert [(skip.level, skip.round) for skip in step.skipped] == [(1, 0), (2, 0), (1, 1), (2, 1), (1, 2), (2, 2)]


def test_no_policy_or_no_levels_pages_nobody_and_says_why():
    assert next_step(None, 0, 0, NOW).message == "No escalation policy: nobody is paged for this incident."
    assert next_step(policy(), 0, 0, NOW).message == "Escalation policy Ops has no levels: nobody is paged."


def test_a_position_past_the_last_level_counts_as_the_last_level():
    step = next_step(policy([ANA], [BEN], repeat_count=1), 5, 0, NOW)
    assert (step.level, step.round) == (1, 1)


def test_positions_are_walked_in_order_each_once():
    assert list(positions_after(0, 0, 2, 1)) == [(1, 0), (2, 0), (1, 1), (2, 1)]
    assert list(positions_after(2, 1, 2, 1)) == []


def test_a_routing_key_chooses_the_policy_for_the_first_step_only():
    assert chosen_policy(0, routed_policy_id=9, own_policy_id=7) == 9
    assert chosen_policy(1, routed_policy_id=9, own_policy_id=7) == 7
    assert chosen_policy(0, routed_policy_id=None, own_policy_id=7) == 7


def test_a_new_incident_or_an_escalation_request_wakes_the_engine():
    assert reaction("created", due=True, by_person=False, assignee=False) == WAKE
    assert reaction("escalation_requested", due=True, by_person=True, assignee=True) == WAKE
    assert reaction("created", due=False, by_person=False, assignee=False) is None  # in maintenance


def test_a_person_assigning_pages_the_assignee_but_the_engine_assigning_does_not():
    assert reaction("assigned", due=True, by_person=True, assignee=True) == PAGE_ASSIGNEE
    assert reaction("assigned", due=True, by_person=False, assignee=True) is None


def test_accept_and_resolve_leave_nothing_for_escalation_to_do():
    for kind in ("accepted", "resolved"):
        assert reaction(kind, due=False, by_person=True, assignee=True) is None


def test_looking_ahead_names_the_next_round_and_the_repeats_left():
    ahead = look_ahead(policy([ANA], repeat_count=2), 1, 0, NOW)
    assert (ahead.level, ahead.round, ahead.levels) == (1, 1, 1)
    assert ahead.new_round and ahead.repeats_left == 1
    assert ahead.targets == [("ana", "named on the level")]


def test_looking_ahead_at_the_end_says_why_it_ends():
    ahead = look_ahead(policy([ANA]), 1, 0, NOW)
    assert ahead.level == 0 and ahead.ends == "Escalation stopped after 1 round of Ops: nobody accepted."
