"""The escalation engine (DESIGN.md §4). `next_escalation_at` on the incident is the truth.

- `tick(now)` is the sweeper: it claims PENDING incidents whose time has come
  (select_for_update(skip_locked=True)) and performs one step for each, in one transaction per
  incident, so a crash loses at most the step in flight (it is re-claimed, nothing half-done).
- `step_due(incident_id, expected_level, expected_round)` is what a kicked Celery task runs for
  low latency. It claims the same way and re-checks the position it expects, so a duplicated,
  late or lost task is harmless: a step is performed at most once, and the sweeper performs it
  if no task does.

One step moves the incident from its position (level, round) to the next level that reaches
somebody: it resolves that level's targets at this instant, assigns the incident, asks the
notifications service to page them and stores when the next step is due. A level that reaches
nobody (empty schedules, no users) is passed at once and the timeline says so. After the last
level the policy starts again while repeats remain; then escalation stops, and says so.

Editing a policy while incidents escalate: running incidents continue with the edited policy
from their current position; a position past the (new) last level counts as the last level.
"""

from datetime import timedelta

from django.db import transaction

from alerts import services as alert_services
from alerts.models import Incident, LogKind
from ilert import clock

from . import paging, targets
from .models import EscalationPolicy, NotifyMode

MAX_PASSES = 50


def tick(now=None, batch=200):
    """Perform every due step. Returns the number of steps performed."""
    now = now or clock.now()
    done = 0
    for _ in range(MAX_PASSES):  # a level with a zero timeout makes its incident due again at once
        with transaction.atomic():
            due = list(
                Incident.objects.select_for_update(skip_locked=True)
                .filter(status=Incident.Status.PENDING, next_escalation_at__lte=now)
                .order_by("next_escalation_at")[:batch]
            )
            for incident in due:
                _step_guarded(incident, now)
                done += 1
        if not due:
            break
    return done


RETRY_AFTER_ERROR = timedelta(minutes=1)
MAX_ERRORS = 5


def _step_guarded(incident, now):
    """One step in a savepoint. A step that raises is retried a minute later; one that keeps
    failing is parked with the error on the timeline, so a poison pill never stalls the engine."""
    try:
        with transaction.atomic():
            _step(incident, now)
    except Exception as exc:  # any bug or bad data in one incident must not stop the others
        incident.refresh_from_db()  # forget what the failed step changed in memory
        errors = incident.log_entries.filter(kind=LogKind.WARNING, data__engine_error=True).count() + 1
        park = errors >= MAX_ERRORS
        alert_services.advance_escalation(
            incident, level=incident.escalation_level, round=incident.escalation_round,
            next_at=None if park else now + RETRY_AFTER_ERROR, now=now,
        )
        what = "parked: escalation stopped, page the on-call by hand" if park else "retrying in a minute"
        message = f"Escalation step failed ({exc.__class__.__name__}: {exc}); {what}."
        alert_services.log(incident, LogKind.WARNING, message, via="escalation", data={"engine_error": True}, at=now)


def step_due(incident_id, expected_level, expected_round, now=None):
    """Perform the step of one incident if it is still due at the expected position."""
    now = now or clock.now()
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update(skip_locked=True)
            .filter(pk=incident_id, status=Incident.Status.PENDING, next_escalation_at__lte=now,
                    escalation_level=expected_level, escalation_round=expected_round)
            .first()
        )
        if incident is None:
            return False
        _step_guarded(incident, now)
        return True


def _policy_for(incident):
    if incident.routing_key:
        routed = EscalationPolicy.objects.filter(tenant_id=incident.tenant_id, routing_key=incident.routing_key).first()
        if routed is not None:
            return routed
    return incident.escalation_policy


def _stop(incident, now, message, *, warning=False):
    alert_services.advance_escalation(
        incident, level=incident.escalation_level, round=incident.escalation_round, next_at=None, now=now,
    )
    alert_services.log(incident, LogKind.WARNING if warning else LogKind.INFO, message, via="escalation", at=now)


def _step(incident, now):
    policy = _policy_for(incident) if incident.escalation_level == 0 else incident.escalation_policy
    if policy is None:
        return _stop(incident, now, "No escalation policy: nobody is paged for this incident.", warning=True)
    levels = list(policy.levels.prefetch_related("users", "teams", "schedules").order_by("position"))
    if not levels:
        return _stop(incident, now, f"Escalation policy {policy.name} has no levels: nobody is paged.", warning=True)

    level_no, round_no = incident.escalation_level, incident.escalation_round
    level_no = min(level_no, len(levels))  # levels removed while escalating: the last one counts as current
    skipped = []
    # At most every level of every round once: then nobody is reachable at all.
    for _ in range(len(levels) * (policy.repeat_count + 1)):
        if level_no == 0:
            level_no, round_no = 1, 0
        elif level_no < len(levels):
            level_no += 1
        elif round_no < policy.repeat_count:
            level_no, round_no = 1, round_no + 1
        else:
            break  # past the last level of the last round
        level = levels[level_no - 1]
        reached = targets.resolve(level, now)
        if level.notify_mode == NotifyMode.ROUND_ROBIN and reached:
            reached = [reached[round_no % len(reached)]]
        if not reached:
            skipped.append(level_no)
            empty = targets.empty_schedules(level, now)
            why = f" (nobody on call in {', '.join(empty)})" if empty else ""
            alert_services.log(incident, LogKind.WARNING, f"Level {level_no} reaches nobody{why}: escalating at once.",
                               via="escalation", data={"level": level_no, "round": round_no}, at=now)
            continue
        return _page(incident, policy, levels, level, level_no, round_no, reached, now)

    if skipped and len(skipped) >= len(levels) and incident.escalation_level == 0:
        return _stop(incident, now, f"Nobody can be reached through escalation policy {policy.name}: "
                     "no level has anyone to page.", warning=True)
    rounds = policy.repeat_count + 1
    return _stop(incident, now, f"Escalation stopped after {rounds} round{'s' if rounds > 1 else ''} of "
                 f"{policy.name}: nobody accepted.", warning=True)


def _page(incident, policy, levels, level, level_no, round_no, reached, now):
    next_at = now + timedelta(minutes=level.timeout_minutes)
    names = ", ".join(user.display_name for user, _ in reached)
    round_text = f", round {round_no + 1}" if policy.repeat_count else ""
    message = f"Level {level_no} of {len(levels)}{round_text}: notified {names}"
    data = {"level": level_no, "round": round_no, "policy": policy.pk,
            "users": [{"id": user.pk, "name": user.display_name, "why": why} for user, why in reached]}
    alert_services.advance_escalation(incident, level=level_no, round=round_no, next_at=next_at, policy=policy,
                                      message=message, data=data, now=now)
    first = reached[0][0]
    if incident.assigned_to_id != first.pk:
        alert_services.assign(incident, first, via="escalation", reason=f"escalation level {level_no}", now=now)
    for user, why in reached:
        paging.page(incident, user, round_tag=f"r{round_no}", reason=f"escalation level {level_no}: {why}")
    paging.wake_up_at(incident, next_at)

