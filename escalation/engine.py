"""The escalation engine (docs/architecture.md §4). `next_escalation_at` on the incident is the truth.

- `tick(now)` is the sweeper: it claims a batch of PENDING incidents whose time has come
  (select_for_update(skip_locked=True)) and performs one step for each, the whole batch in one
  transaction, so a crash loses nothing (the rows are re-claimed, nothing half-done).
- `step_due(incident_id, expected_level, expected_round)` is what the task kicked for a new incident
  (or an escalation request) runs for low latency. It claims the same way and re-checks the position
  it expects, so a duplicated, late or lost task is harmless: a step is performed at most once, and
  the sweeper performs it if no task does.
- A batch asks for one sweep at each due time it sets (a Celery task with that ETA): one task for a
  whole storm's next level, not one per incident. Lost or late, the beat sweeper does its work.

One step moves the incident from its position (level, round) to the next level that reaches
somebody: it resolves that level's targets at this instant, assigns the incident, asks the
notifications service to page them and stores when the next step is due. A level that reaches
nobody (empty schedules, no users) is passed at once and the timeline says so. After the last
level the policy starts again while repeats remain; then escalation stops, and says so.

Editing a policy while incidents escalate: running incidents continue with the edited policy
from their current position; a position past the (new) last level counts as the last level.

A batch is planned in memory first (policies, levels and who each level reaches are looked up
once per sweep, at the sweep's instant, and each kind of step is decided once), then written with
a handful of bulk statements. If a batch fails, its incidents are stepped one by one, each in its
own transaction, so that one bad incident cannot stall the others; one that keeps failing is
parked with the error on its timeline.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min

from alerts import services as alert_services
from alerts.models import Incident, LogKind
from ilert import clock, metrics

from . import paging, targets
from .models import EscalationPolicy, NotifyMode

log = logging.getLogger(__name__)

MAX_PASSES = 50
BATCH = 500
RETRY_AFTER_ERROR = timedelta(minutes=1)
MAX_ERRORS = 5


def tick(now=None, batch=BATCH, helpers=0, wake_early=False):
    """Perform every due step. Returns the number of steps performed.

    Two options cut lateness when no kicked task exists (after a broker outage, or for rows written
    without one): with `helpers`, a backlog of a full batch or more (a storm) brings that many more
    sweeps onto idle workers at once (they skip the rows this one holds); with `wake_early`, a step
    due before the next beat gets a sweep at its due time."""
    now = now or clock.now()
    if helpers and _pending().filter(next_escalation_at__lte=now)[batch - 1:batch].exists():
        paging.more_sweeps(helpers)
    done, planner = 0, Planner(now)  # one planner: every batch of this tick is planned at the same instant
    for _ in range(MAX_PASSES):  # a level with a zero timeout makes its incident due again at once
        performed = _perform_batch(planner, batch)
        if performed is None:
            break
        done += performed
    if wake_early:
        upcoming = (_pending().filter(next_escalation_at__gt=now).order_by("next_escalation_at")
                    .values_list("next_escalation_at", flat=True).first())
        if upcoming is not None and upcoming - now < timedelta(seconds=settings.SWEEP_INTERVAL_SECONDS):
            paging.sweep_at(upcoming)
    return done


def backlog(now):
    """(incidents due for a step now, the oldest due time): read at scrape time (ilert/exposition.py)
    through the partial index on next_escalation_at."""
    due = _pending().filter(next_escalation_at__lte=now).order_by().aggregate(
        rows=Count("id"), oldest=Min("next_escalation_at"))
    return due["rows"], due["oldest"]


def _pending():
    return Incident.objects.filter(status=Incident.Status.PENDING, next_escalation_at__isnull=False)


def _claim(incidents):
    """Lock the incidents, skipping those another sweeper holds. Their alert sources come along
    (connectors describe them), unlocked and loaded once per batch: a storm's incidents share one."""
    return incidents.prefetch_related("alert_source").select_for_update(skip_locked=True)


def step_due(incident_id, expected_level, expected_round, now=None):
    """Perform the step of one incident if it is still due at the expected position."""
    now = now or clock.now()
    with transaction.atomic():
        incident = _claim(Incident.objects.filter(
            pk=incident_id, status=Incident.Status.PENDING, next_escalation_at__lte=now,
            escalation_level=expected_level, escalation_round=expected_round,
        )).first()
        if incident is None:
            return False
        _perform_or_record(incident, Planner(now))
        return True


# --- performing a batch --------------------------------------------------------------------------


def _perform_batch(planner, batch):
    """Claim a batch and perform it in one transaction. Returns how many incidents it held (None:
    nothing was due). If it fails, its incidents are stepped one at a time, each in a transaction of
    its own (so that no transaction gathers locks one incident at a time while others wait on it):
    one bad incident cannot stall the others, and it alone is retried later, then parked."""
    due = []
    try:
        with transaction.atomic():
            _check_constraints_now()
            due = list(_claim(_pending().filter(next_escalation_at__lte=planner.now))
                       .order_by("next_escalation_at")[:batch])
            if due:
                _perform(due, planner)
    except Exception:
        if not due:
            raise  # the claim itself failed (the database is gone): the next sweep tries again
        log.warning("an escalation batch of %s failed; stepping its incidents one at a time", len(due), exc_info=True)
        return sum(_step_alone(incident.pk, planner) for incident in due)
    return len(due) or None


def _check_constraints_now():
    """Foreign keys checked by each statement, not all at commit (PostgreSQL defers Django's): the
    checks of the batch's own writes then happen before paging, not inside the stretch in which
    batches paging the same person take turns (notifications: the reply-code lock, up to commit)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _step_alone(incident_id, planner):
    with transaction.atomic():
        incident = _claim(_pending().filter(pk=incident_id, next_escalation_at__lte=planner.now)).first()
        if incident is None:
            return 0  # another sweeper stepped it meanwhile
        _perform_or_record(incident, planner)
        return 1


def _perform_or_record(incident, planner):
    try:
        with transaction.atomic():
            _perform([incident], planner)
    except Exception as exc:  # a poison pill: it must not stall the engine
        _record_failure(incident, planner.now, exc)


def _record_failure(incident, now, exc):
    incident.refresh_from_db()
    errors = incident.log_entries.filter(kind=LogKind.WARNING, data__engine_error=True).count() + 1
    park = errors >= MAX_ERRORS
    what = "parked: escalation stopped, page the on-call by hand" if park else "retrying in a minute"
    message = f"Escalation step failed ({exc.__class__.__name__}: {exc}); {what}."
    metrics.ESCALATION_FAILURES.inc()
    alert_services.advance_escalations([alert_services.EscalationChange(
        incident, incident.escalation_level, incident.escalation_round,
        next_at=None if park else now + RETRY_AFTER_ERROR,
        notes=[(LogKind.WARNING, message, {"engine_error": True})],
    )], now=now)


def _perform(incidents, planner):
    metrics.escalation_steps(incidents, planner.now)  # before the step moves their due times
    pages = []  # (incident, user, round_tag, reason) to hand to notify
    changes = [planner.step(incident, pages) for incident in incidents]
    alert_services.advance_escalations(changes, now=planner.now)
    paging.page_many(pages)
    for due in {change.next_at for change in changes if change.next_at is not None} - planner.woken:
        planner.woken.add(due)  # once per tick: its batches share the instant, so their due times too
        paging.wake_up_at(due)


@dataclass
class Outcome:
    """What a step does to any incident at one position of one policy: an EscalationChange without
    the incident, and whom to page (user, round tag, reason)."""

    move: dict
    pages: list = field(default_factory=list)


@dataclass
class Planner:
    """Decides each incident's step in memory, at one instant. Everything it looks up (policies,
    levels, their targets) and every decision is kept for its life: a storm of thousands of
    incidents at the same position is decided once."""

    now: object
    _policies: dict = field(default_factory=dict)
    _routed: dict = field(default_factory=dict)
    _reach: dict = field(default_factory=dict)
    _outcomes: dict = field(default_factory=dict)
    woken: set = field(default_factory=set)  # due times a sweep was asked for

    def step(self, incident, pages):
        policy = self.policy_for(incident)
        key = (policy.pk if policy is not None else None, incident.escalation_level, incident.escalation_round)
        outcome = self._outcomes.get(key)
        if outcome is None:
            outcome = self._outcomes[key] = self._decide(policy, incident.escalation_level, incident.escalation_round)
        pages.extend((incident, user, round_tag, reason) for user, round_tag, reason in outcome.pages)
        return alert_services.EscalationChange(incident, **outcome.move)

    def policy_for(self, incident):
        if incident.escalation_level == 0 and incident.routing_key:
            key = (incident.tenant_id, incident.routing_key)
            if key not in self._routed:
                self._routed[key] = (EscalationPolicy.objects.filter(tenant_id=incident.tenant_id,
                                                                     routing_key=incident.routing_key)
                                     .values_list("pk", flat=True).first())
            if self._routed[key] is not None:
                return self.policy(self._routed[key])
        return self.policy(incident.escalation_policy_id) if incident.escalation_policy_id else None

    def policy(self, pk):
        if pk not in self._policies:
            policy = EscalationPolicy.objects.filter(pk=pk).first()
            if policy is not None:
                policy.ordered_levels = list(
                    policy.levels.prefetch_related("users", "teams__members", "schedules").order_by("position")
                )
            self._policies[pk] = policy
        return self._policies[pk]

    def reach(self, level):
        if level.pk not in self._reach:
            self._reach[level.pk] = targets.reach(level, self.now)
        return self._reach[level.pk]

    def _decide(self, policy, level_no, round_no):
        """The step from (level_no, round_no) of `policy`."""
        if policy is None:
            return _stop(level_no, round_no, "No escalation policy: nobody is paged for this incident.")
        levels = policy.ordered_levels
        if not levels:
            return _stop(level_no, round_no, f"Escalation policy {policy.name} has no levels: nobody is paged.")

        start = level_no
        level_no = min(level_no, len(levels))  # levels removed while escalating: the last one counts as current
        at_round = round_no
        notes, skipped = [], 0
        # At most every level of every round once: then nobody is reachable at all.
        for _ in range(len(levels) * (policy.repeat_count + 1)):
            if level_no == 0:
                level_no, at_round = 1, 0
            elif level_no < len(levels):
                level_no += 1
            elif at_round < policy.repeat_count:
                level_no, at_round = 1, at_round + 1
            else:
                break  # past the last level of the last round
            level = levels[level_no - 1]
            reached, empty = self.reach(level)
            if level.notify_mode == NotifyMode.ROUND_ROBIN and reached:
                reached = [reached[at_round % len(reached)]]
            if not reached:
                skipped += 1
                why = f" (nobody on call in {', '.join(empty)})" if empty else ""
                notes.append((LogKind.WARNING, f"Level {level_no} reaches nobody{why}: escalating at once.",
                               {"level": level_no, "round": at_round}))
                continue
            return self._page(policy, levels, level, level_no, at_round, reached, notes)

        if skipped >= len(levels) and start == 0:
            return _stop(start, round_no, f"Nobody can be reached through escalation policy {policy.name}: "
                         "no level has anyone to page.", notes)
        rounds = policy.repeat_count + 1
        return _stop(start, round_no, f"Escalation stopped after {rounds} round{'s' if rounds > 1 else ''} of "
                     f"{policy.name}: nobody accepted.", notes)

    def _page(self, policy, levels, level, level_no, round_no, reached, notes):
        names = ", ".join(user.display_name for user, _ in reached)
        round_text = f", round {round_no + 1}" if policy.repeat_count else ""
        data = {"level": level_no, "round": round_no, "policy": policy.pk,
                "users": [{"id": user.pk, "name": user.display_name, "why": why} for user, why in reached]}
        return Outcome(
            move={"level": level_no, "round": round_no, "next_at": self.now + timedelta(minutes=level.timeout_minutes),
                  "policy": policy, "message": f"Level {level_no} of {len(levels)}{round_text}: notified {names}",
                  "data": data, "notes": notes, "assign_to": reached[0][0],
                  "assign_reason": f"escalation level {level_no}"},
            pages=[(user, f"r{round_no}", f"escalation level {level_no}: {why}") for user, why in reached],
        )


def _stop(level_no, round_no, message, notes=()):
    """Escalation ends here: the incident keeps its position, with nothing more due."""
    return Outcome(move={"level": level_no, "round": round_no, "next_at": None,
                         "notes": [*notes, (LogKind.WARNING, message, {})]})


# --- looking ahead (the incident page) -----------------------------------------------------------


@dataclass
class Preview:
    """What the next step of an incident will do at its due time, as the engine will decide it then
    (schedules and overrides resolved at that instant). Nothing is written."""

    at: object
    level: int = 0  # the level that will be paged (0: none)
    round: int = 0
    levels: int = 0
    targets: list = field(default_factory=list)  # [(user, why)]
    skipped: list = field(default_factory=list)  # [(level number, message)] passed at once on the way
    new_round: bool = False  # the policy starts again from level 1
    repeats_left: int = 0  # further rounds after the one paged
    ends: str = ""  # the step pages nobody: why escalation ends there


def preview(incident, at=None):
    """The next step of a PENDING incident, decided by the engine's own planner at `at` (default: when
    it is due), or None when nothing more is due."""
    at = at or incident.next_escalation_at
    if at is None or incident.status != Incident.Status.PENDING:
        return None
    planner = Planner(at)
    policy = planner.policy_for(incident)
    outcome = planner._decide(policy, incident.escalation_level, incident.escalation_round)
    move = outcome.move
    skipped = [(data["level"], message) for _kind, message, data in move.get("notes", []) if data.get("level")]
    result = Preview(at=at, skipped=skipped, levels=len(policy.ordered_levels) if policy else 0)
    if move.get("next_at") is None:
        result.ends = next((message for _kind, message, data in reversed(move.get("notes", [])) if not data), "")
        return result
    result.level, result.round = move["level"], move["round"]
    result.targets = [(user, reason.split(": ", 1)[-1]) for user, _tag, reason in outcome.pages]
    result.new_round = move["round"] > incident.escalation_round
    result.repeats_left = policy.repeat_count - move["round"]
    return result
