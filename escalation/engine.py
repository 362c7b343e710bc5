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

What a step does (which level, whom to page, when the next step is due, repeats, the end) is
decided by the pure planner, escalation/planner.py; this module is the machinery around it:
claiming, batching, writing, early wake-ups and storm helpers.

A batch is planned in memory first (policies, levels and who each level reaches are looked up
once per sweep, at the sweep's instant, and each position of each policy is decided once), then
written with a handful of bulk statements. If a batch fails, its incidents are stepped one by one, each in its
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

from . import paging, planner, targets
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
        planner.more = False
        performed = _perform_batch(planner, batch)
        if performed is None:
            break
        done += performed
        if not planner.more:
            break  # the batch was not full and stepped nobody due again at this instant: nothing is left
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
            planner.more = planner.more or len(due) >= batch  # a full batch: more may be due
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
    planner.more = planner.more or any(c.next_at is not None and c.next_at <= planner.now for c in changes)
    paging.page_many(pages)
    for due in {change.next_at for change in changes if change.next_at is not None} - planner.woken:
        planner.woken.add(due)  # once per tick: its batches share the instant, so their due times too
        paging.wake_up_at(due)


@dataclass
class Planner:
    """Steps incidents at one instant through the pure planner (escalation/planner.py). Everything
    it loads (policies, their levels and whom each level reaches at the instant) and every
    decision is kept for its life: a storm of thousands of incidents at the same position is
    decided once."""

    now: object
    _policies: dict = field(default_factory=dict)  # pk -> (EscalationPolicy, planner.Policy) or None
    _routed: dict = field(default_factory=dict)
    _steps: dict = field(default_factory=dict)
    woken: set = field(default_factory=set)  # due times a sweep was asked for
    more: bool = False  # the pass just made may have left incidents due at this instant

    def step(self, incident, pages):
        """The incident's EscalationChange; its pages are added to `pages` as
        (incident, user, round tag, reason)."""
        loaded = self.policy_for(incident)
        key = (loaded[0].pk if loaded else None, incident.escalation_level, incident.escalation_round)
        step = self._steps.get(key)
        if step is None:
            step = self._steps[key] = planner.next_step(loaded and loaded[1], *key[1:], self.now)
        pages.extend((incident, page.target.user, page.round_tag, page.reason) for page in step.pages)
        return _change(incident, step, loaded and loaded[0])

    def policy_for(self, incident):
        """(EscalationPolicy, planner.Policy) the incident's next step follows, or None."""
        routed = None
        if incident.escalation_level == 0 and incident.routing_key:
            key = (incident.tenant_id, incident.routing_key)
            if key not in self._routed:
                self._routed[key] = (EscalationPolicy.objects.filter(tenant_id=incident.tenant_id,
                                                                     routing_key=incident.routing_key)
                                     .values_list("pk", flat=True).first())
            routed = self._routed[key]
        pk = planner.chosen_policy(incident.escalation_level, routed, incident.escalation_policy_id)
        return self.policy(pk) if pk else None

    def policy(self, pk):
        if pk not in self._policies:
            policy = EscalationPolicy.objects.filter(pk=pk).first()
            self._policies[pk] = None if policy is None else (policy, _plain(policy, self.now))
        return self._policies[pk]


def _plain(policy, now):
    """The policy as the planner reads it: its levels and whom each reaches at `now`."""
    levels = policy.levels.prefetch_related("users", "teams__members", "schedules").order_by("position")
    return planner.Policy(id=policy.pk, name=policy.name, repeat_count=policy.repeat_count, levels=tuple(
        planner.Level(number=number, timeout_minutes=level.timeout_minutes,
                      round_robin=level.notify_mode == NotifyMode.ROUND_ROBIN,
                      targets=tuple(planner.Target(user.pk, user.display_name, why, user) for user, why in found),
                      empty_schedules=tuple(empty))
        for number, level in enumerate(levels, start=1)
        for found, empty in [targets.reach(level, now)]
    ))


def _change(incident, step, policy):
    """The planner's Step as the door in alerts.services records it."""
    notes = [(LogKind.WARNING, skip.message, {"level": skip.level, "round": skip.round}) for skip in step.skipped]
    if step.ends:
        return alert_services.EscalationChange(incident, step.level, step.round, next_at=None,
                                               notes=[*notes, (LogKind.WARNING, step.message, {})])
    data = {"level": step.level, "round": step.round, "policy": policy.pk,
            "users": [{"id": page.target.id, "name": page.target.name, "why": page.target.why}
                      for page in step.pages]}
    return alert_services.EscalationChange(
        incident, step.level, step.round, next_at=step.next_at, policy=policy, message=step.message, data=data,
        notes=notes, assign_to=step.assignee.user, assign_reason=f"escalation level {step.level}",
    )


# --- looking ahead (the incident page) -----------------------------------------------------------


def preview(incident, at=None):
    """The next step of a PENDING incident (planner.Preview), decided by the engine's own planner at
    `at` (default: when it is due) with schedules and overrides resolved then, or None when nothing
    more is due. Nothing is written."""
    at = at or incident.next_escalation_at
    if at is None or incident.status != Incident.Status.PENDING:
        return None
    loaded = Planner(at).policy_for(incident)
    return planner.look_ahead(loaded and loaded[1], incident.escalation_level, incident.escalation_round, at)
