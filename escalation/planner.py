"""The escalation decision: pure functions from a policy, as it reaches people at one instant, to
what an incident's next step does. No database, no clock, no writes (like schedules/resolution.py):
`escalation.engine` loads the values (`Policy`, its `Level`s and whom each reaches at the step's
instant), asks here, and writes the answer through `alerts.services.advance_escalations`; the
incident page asks the same question for a later instant (`look_ahead`).

The rules:

* An incident is at a position (level, round). Level 0 is "not started"; levels are numbered from
  1; round 0 is the first pass through the policy, and the policy is passed `repeat_count` more
  times after it.
* **Timeout** (the step is due): the next step goes to the next level that reaches somebody: the
  level after the current one, else level 1 of the next round while repeats remain. It pages the
  level's targets (all of them, or in round-robin mode the one whose turn the round is), assigns
  the incident to the first, and is due again after the level's timeout. A level that reaches
  nobody is passed at once and the timeline says why. Incidents escalating while their policy is
  edited go on with the edited policy from their position; a position past the last level
  (levels removed meanwhile) counts as the last level.
* When no level is left, escalation **ends**: the incident keeps its position, nothing is due,
  and the timeline says why (no policy, no levels, nobody reachable at all, or every round passed
  without an accept).
* **Accept and resolve** end escalation too, in `alerts.services`: the incident leaves PENDING and
  its due time is cleared, so no step is ever due again (`reaction` says escalation does nothing).
  An escalation request or a new incident makes a step due now (`reaction`: wake the engine); a
  person assigning the incident pages the assignee at once.
* A routing key chooses the policy only for the first step (`chosen_policy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

WAKE = "wake"  # a step is due now: perform it right after commit
PAGE_ASSIGNEE = "page_assignee"  # a person assigned the incident: page the new assignee


@dataclass(frozen=True)
class Target:
    """Somebody a level reaches. `user` rides along untouched (the engine's User) for paging."""

    id: int
    name: str
    why: str  # "named on the level", "member of team Ops", "on call in Primary"
    user: object = field(default=None, compare=False)


@dataclass(frozen=True)
class Level:
    number: int  # 1-based position in the policy
    timeout_minutes: int
    targets: tuple = ()  # Targets reached at the step's instant, in order, nobody twice
    empty_schedules: tuple = ()  # names of the level's schedules with nobody on call then
    round_robin: bool = False  # one target per round instead of all at once


@dataclass(frozen=True)
class Policy:
    id: int
    name: str
    levels: tuple = ()  # Levels in order
    repeat_count: int = 0  # passes after the first


@dataclass(frozen=True)
class Skip:
    """A level passed at once because it reaches nobody."""

    level: int
    round: int
    message: str


@dataclass(frozen=True)
class Page:
    target: Target
    round_tag: str  # part of a notification's idempotency key: one page per person per round
    reason: str


@dataclass(frozen=True)
class Step:
    """What the next step does: the new position, the levels passed on the way, whom it pages, and
    when the step after it is due (None: escalation ends here, and `message` says why)."""

    level: int
    round: int
    next_at: datetime | None
    message: str  # the timeline line: "Level 1 of 2: notified Ana", or why escalation ends
    skipped: tuple = ()
    pages: tuple = ()

    @property
    def ends(self):
        return self.next_at is None

    @property
    def assignee(self):
        """The first person paged: the incident is assigned to them."""
        return self.pages[0].target if self.pages else None


def chosen_policy(level, routed_policy_id, own_policy_id):
    """The policy a step follows: the one the event's routing key names, for the first step only
    (later steps follow what the first recorded on the incident), else the incident's own."""
    if level == 0 and routed_policy_id is not None:
        return routed_policy_id
    return own_policy_id


def positions_after(level, round_, levels, repeat_count):
    """The positions after (level, round_), in order, through the last level of the last round:
    each at most once, so a policy that reaches nobody at all is walked through exactly once."""
    level = min(level, levels)
    for _ in range(levels * (repeat_count + 1)):
        if level == 0:
            level, round_ = 1, 0
        elif level < levels:
            level += 1
        elif round_ < repeat_count:
            level, round_ = 1, round_ + 1
        else:
            return
        yield level, round_


def reached(level, round_):
    """Whom `level` pages in `round_`: all its targets, or in round-robin mode the round's turn."""
    if level.round_robin and level.targets:
        return (level.targets[round_ % len(level.targets)],)
    return tuple(level.targets)


def next_step(policy, level, round_, now):
    """The step of an incident at (level, round_) of `policy` (None: the incident has none), due
    at `now`."""
    if policy is None:
        return _end(level, round_, "No escalation policy: nobody is paged for this incident.")
    if not policy.levels:
        return _end(level, round_, f"Escalation policy {policy.name} has no levels: nobody is paged.")
    skipped = []
    for number, at_round in positions_after(level, round_, len(policy.levels), policy.repeat_count):
        current = policy.levels[number - 1]
        targets = reached(current, at_round)
        if targets:
            return _paging(policy, current, at_round, targets, skipped, now)
        skipped.append(Skip(number, at_round, _nobody(current)))
    if len(skipped) >= len(policy.levels) and level == 0:
        return _end(level, round_, f"Nobody can be reached through escalation policy {policy.name}: "
                    "no level has anyone to page.", skipped)
    rounds = policy.repeat_count + 1
    return _end(level, round_, f"Escalation stopped after {rounds} round{'s' if rounds > 1 else ''} of "
                f"{policy.name}: nobody accepted.", skipped)


def _nobody(level):
    why = f" (nobody on call in {', '.join(level.empty_schedules)})" if level.empty_schedules else ""
    return f"Level {level.number} reaches nobody{why}: escalating at once."


def _paging(policy, level, round_, targets, skipped, now):
    names = ", ".join(target.name for target in targets)
    round_text = f", round {round_ + 1}" if policy.repeat_count else ""
    return Step(
        level=level.number, round=round_, next_at=now + timedelta(minutes=level.timeout_minutes),
        message=f"Level {level.number} of {len(policy.levels)}{round_text}: notified {names}",
        skipped=tuple(skipped),
        pages=tuple(Page(target, f"r{round_}", f"escalation level {level.number}: {target.why}")
                    for target in targets),
    )


def _end(level, round_, message, skipped=()):
    """Escalation ends here: the incident keeps its position, with nothing more due."""
    return Step(level=level, round=round_, next_at=None, message=message, skipped=tuple(skipped))


@dataclass
class Preview:
    """What the next step of an incident will do at `at` (the incident page's "who is paged next").
    Nothing is written."""

    at: object
    level: int = 0  # the level that will be paged (0: none)
    round: int = 0
    levels: int = 0
    targets: list = field(default_factory=list)  # [(user, why)]
    skipped: list = field(default_factory=list)  # [(level number, message)] passed at once on the way
    new_round: bool = False  # the policy starts again from level 1
    repeats_left: int = 0  # further rounds after the one paged
    ends: str = ""  # the step pages nobody: why escalation ends there


def look_ahead(policy, level, round_, at):
    """The Preview of the step from (level, round_) of `policy`, decided at `at` as `next_step`
    will decide it then."""
    step = next_step(policy, level, round_, at)
    result = Preview(at=at, skipped=[(skip.level, skip.message) for skip in step.skipped],
                     levels=len(policy.levels) if policy else 0)
    if step.ends:
        result.ends = step.message
        return result
    result.level, result.round = step.level, step.round
    result.targets = [(page.target.user, page.target.why) for page in step.pages]
    result.new_round = step.round > round_
    result.repeats_left = policy.repeat_count - step.round
    return result


def reaction(kind, *, due, by_person, assignee):
    """What escalation does when an incident changes (alerts' domain events): WAKE when a new
    incident or an escalation request has a step due, PAGE_ASSIGNEE when a person assigned it to
    somebody, else None. Accepted and resolved incidents have no due time: nothing more happens."""
    if kind in ("created", "escalation_requested") and due:
        return WAKE
    if kind == "assigned" and by_person and assignee:
        return PAGE_ASSIGNEE
    return None
