"""Incident actions (accept, resolve, escalate, assign, comment, tags), the timeline, and the
escalation engine's door (advance_escalations)."""

from dataclasses import dataclass, field
from functools import partial

from django.db import transaction

from ilert import bulk, clock
from ilert.errors import Conflict, DomainError, Forbidden

from .. import events
from ..models import Incident, IncidentLogEntry, LogKind

COMMENT_MAX = 5000


# --- the timeline ------------------------------------------------------------------------------


def log(incident, kind, message="", *, actor=None, via="system", data=None, at=None):
    """Append to an incident's timeline. Other apps (notifications, connectors, escalation) record
    what they did through here."""
    return IncidentLogEntry.objects.create(
        tenant_id=incident.tenant_id, incident=incident, kind=kind, actor=actor, via=via,
        message=message, data=data or {}, at=at or clock.now(),
    )


# --- incident actions --------------------------------------------------------------------------


def _locked(incident):
    return Incident.objects.select_for_update().select_related("alert_source").get(pk=incident.pk)


def _who(user, via=""):
    if user is not None:
        return user.display_name
    return {"auto_resolve": "ilert (no events)", "system": "ilert"}.get(via, via or "an integration")


class AlreadyResolved(Conflict):
    code = "already_resolved"


def _may_act(by):
    """Read-only roles never change an incident, whatever door they come through (dashboard, API,
    SMS, call, push, email, Slack): the check is here, where every door ends up."""
    if by is not None and (not by.can_write or not by.is_active):
        raise Forbidden("Your role does not allow this.")


def accept(incident, *, by=None, via="api", now=None):
    """PENDING → ACCEPTED: escalation stops (the engine sees no due time) and pending pages are
    cancelled (notifications listens for "accepted"). Accepting an accepted incident changes nothing."""
    _may_act(by)
    with transaction.atomic():
        locked = _locked(incident)
        _accept_locked(locked, by=by, via=via, now=now or clock.now())
    _copy(locked, incident)
    return incident


def _accept_locked(incident, *, by, via, now):
    if incident.status == Incident.Status.RESOLVED:
        raise AlreadyResolved(f"#{incident.number} was already resolved by {_who(incident.resolved_by)}.")
    if incident.status == Incident.Status.ACCEPTED:
        return False
    incident.status = Incident.Status.ACCEPTED
    incident.accepted_by, incident.accepted_at = by, now
    incident.next_escalation_at = None
    if by is not None:
        incident.assigned_to = by
    incident.save(update_fields=["status", "accepted_by", "accepted_at", "next_escalation_at", "assigned_to"])
    entry = log(incident, LogKind.ACCEPTED, f"Accepted by {_who(by, via)}", actor=by, via=via, at=now)
    events.announce(incident, "accepted", entry=entry, actor=by, via=via)
    return True


def resolve(incident, *, by=None, via="api", now=None):
    """→ RESOLVED, for good: a resolved incident never reopens. Resolving twice changes nothing."""
    _may_act(by)
    with transaction.atomic():
        locked = _locked(incident)
        _resolve_locked(locked, by=by, via=via, now=now or clock.now())
    _copy(locked, incident)
    return incident


def _resolve_locked(incident, *, by, via, now):
    if incident.status == Incident.Status.RESOLVED:
        return False
    incident.status = Incident.Status.RESOLVED
    incident.resolved_by, incident.resolved_at = by, now
    incident.next_escalation_at = None
    incident.auto_resolve_at = None
    incident.save(update_fields=["status", "resolved_by", "resolved_at", "next_escalation_at", "auto_resolve_at"])
    entry = log(incident, LogKind.RESOLVED, f"Resolved by {_who(by, via)}", actor=by, via=via, at=now)
    events.announce(incident, "resolved", entry=entry, actor=by, via=via)
    return True


def escalate(incident, *, by=None, via="api", now=None):
    """Ask for the next escalation level now. An accepted incident goes back to PENDING, so the
    next level is paged. The escalation engine carries the step out (it finds the due time)."""
    _may_act(by)
    now = now or clock.now()
    with transaction.atomic():
        locked = _locked(incident)
        if locked.status == Incident.Status.RESOLVED:
            raise AlreadyResolved(f"#{locked.number} was already resolved by {_who(locked.resolved_by)}.")
        locked.status = Incident.Status.PENDING
        locked.accepted_by = locked.accepted_at = None
        locked.next_escalation_at = now
        locked.in_maintenance = False  # a person asking for escalation overrides a maintenance window
        locked.save(update_fields=["status", "accepted_by", "accepted_at", "next_escalation_at", "in_maintenance"])
        entry = log(locked, LogKind.ESCALATION_REQUESTED, f"Escalation to the next level requested by {_who(by, via)}",
                    actor=by, via=via, at=now)
        events.announce(locked, "escalation_requested", entry=entry, actor=by, via=via)
    _copy(locked, incident)
    return incident


def assign(incident, user, *, by=None, via="api", reason="", now=None):
    """Make `user` the incident's assignee. A person reassigning (by=someone) is announced with
    `actor`, and the escalation app pages the new assignee."""
    _may_act(by)
    if user.tenant_id != incident.tenant_id or not user.is_active:
        raise DomainError("Unknown user.", field="user")
    now = now or clock.now()
    with transaction.atomic():
        locked = _locked(incident)
        if locked.status == Incident.Status.RESOLVED:
            raise AlreadyResolved(f"#{locked.number} was already resolved by {_who(locked.resolved_by)}.")
        if locked.assigned_to_id == user.pk and by is None:
            _copy(locked, incident)
            return incident
        locked.assigned_to = user
        locked.save(update_fields=["assigned_to"])
        text = f"Assigned to {user.display_name}" + (f" by {by.display_name}" if by else "")
        text += f" ({reason})" if reason else ""
        entry = log(locked, LogKind.ASSIGNED, text, actor=by, via=via, data={"user": user.pk}, at=now)
        events.announce(locked, "assigned", entry=entry, actor=by, via=via)
    _copy(locked, incident)
    return incident


def comment(incident, text, *, by, via="api"):
    _may_act(by)
    text = (text or "").strip()
    if not text:
        raise DomainError("A comment needs some text.", field="text")
    if len(text) > COMMENT_MAX:
        raise DomainError(f"At most {COMMENT_MAX} characters.", field="text")
    with transaction.atomic():
        entry = log(incident, LogKind.COMMENT, text, actor=by, via=via)
        events.announce(incident, "commented", entry=entry, actor=by, via=via)
    return entry


def tags_of(incident):
    """An incident's tags. They are a label: labels["tags"] lists them comma-separated (shown and
    searched like any label) and custom_details["tags"] keeps the exact list."""
    exact = (incident.custom_details or {}).get("tags")
    if isinstance(exact, list):
        return [str(tag) for tag in exact]
    joined = (incident.labels or {}).get("tags") or ""
    return [tag.strip() for tag in str(joined).split(",") if tag.strip()]


def add_tags(incident, tags, *, by=None, via="api", now=None):
    """Add tags an incident does not have yet (an open or a resolved one: tags describe, they do not
    act). Returns the tags added; adding none changes nothing and writes no timeline entry."""
    now = now or clock.now()
    with transaction.atomic():
        locked = _locked(incident)
        current = tags_of(locked)
        added = list(dict.fromkeys(tag for tag in tags if tag not in current))
        if added:
            merged = current + added
            locked.labels = {**(locked.labels or {}), "tags": ", ".join(merged)[:500]}
            locked.custom_details = {**(locked.custom_details or {}), "tags": merged}
            locked.save(update_fields=["labels", "custom_details"])
            log(locked, LogKind.INFO, f"Tags added by {_who(by, via)}: {', '.join(added)}", actor=by, via=via,
                data={"tags": added}, at=now)
    incident.labels, incident.custom_details = locked.labels, locked.custom_details
    return added


@dataclass
class EscalationChange:
    """One move of the escalation engine for one incident it holds locked: its new position,
    the timeline entries that explain it, and whom it is now assigned to (None: unchanged)."""

    incident: Incident
    level: int
    round: int
    next_at: object  # datetime, or None when escalation is over
    policy: object = None  # the policy now followed (set on the incident when it differs)
    message: str = ""  # the ESCALATED entry ("Level 1 of 2: notified Ana"), if any
    data: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)  # [(LogKind, message, data)] written before it
    assign_to: object = None  # a User
    assign_reason: str = ""


def advance_escalations(changes, *, now):
    """The escalation engine's door: record many moves at once (one UPDATE, one INSERT of timeline
    entries), then announce "escalated" and "assigned" for each, inside the caller's transaction."""
    if not changes:
        return
    incidents, entries, announced, assigned = [], [], [], {}  # announced: (incident, kind, index in entries)
    for change in changes:
        incident = change.incident
        incident.escalation_level, incident.escalation_round = change.level, change.round
        incident.next_escalation_at = change.next_at
        if change.policy is not None and incident.escalation_policy_id != change.policy.pk:
            incident.escalation_policy = change.policy
        for kind, message, data in change.notes:
            entries.append(_entry(incident, kind, message, data, now))
        if change.message:
            announced.append((incident, "escalated", len(entries)))
            entries.append(_entry(incident, LogKind.ESCALATED, change.message, change.data, now))
        user = change.assign_to
        if user is not None and incident.assigned_to_id != user.pk:
            incident.assigned_to = user
            key = (user.pk, change.assign_reason)
            if key not in assigned:  # the same text and data for a whole storm: written once
                why = f" ({change.assign_reason})" if change.assign_reason else ""
                assigned[key] = (f"Assigned to {user.display_name}{why}", {"user": user.pk})
            announced.append((incident, "assigned", len(entries)))
            entries.append(_entry(incident, LogKind.ASSIGNED, *assigned[key], now))
        incidents.append(incident)
    # One UPDATE per distinct new position (in a storm the whole batch moves alike: one statement).
    groups = {}
    for incident in incidents:
        values = (incident.escalation_level, incident.escalation_round, incident.next_escalation_at,
                  incident.escalation_policy_id, incident.assigned_to_id)
        groups.setdefault(values, []).append(incident.pk)
    for (level, round_, next_at, policy_id, assigned_to_id), ids in groups.items():
        Incident.objects.filter(pk__in=ids).update(
            escalation_level=level, escalation_round=round_, next_escalation_at=next_at,
            escalation_policy_id=policy_id, assigned_to_id=assigned_to_id,
        )
    pks = bulk.insert(IncidentLogEntry, entries)
    events.announce_many([  # the timeline objects are built only for receivers that read them
        events.Change(incident, kind, via="escalation",
                      entry=partial(bulk.instance, IncidentLogEntry, entries[i], pks[i]))
        for incident, kind, i in announced
    ])


def _entry(incident, kind, message, data, at, via="escalation", actor_id=None):
    """A timeline row for bulk.insert."""
    return {"tenant_id": incident.tenant_id, "incident_id": incident.pk, "kind": kind, "via": via,
            "message": message, "data": data or {}, "actor_id": actor_id, "at": at}


def log_many(entries):
    """Append many timeline entries at once: [(incident, kind, message, via, data, actor)]."""
    now = clock.now()
    bulk.insert(IncidentLogEntry, [
        _entry(incident, kind, message, data, now, via=via, actor_id=actor.pk if actor is not None else None)
        for incident, kind, message, via, data, actor in entries
    ])


def _copy(source, target):
    if source is not target:
        for field in ("status", "accepted_by_id", "accepted_at", "resolved_by_id", "resolved_at", "assigned_to_id",
                      "next_escalation_at", "auto_resolve_at", "escalation_level", "escalation_round",
                      "in_maintenance"):
            setattr(target, field, getattr(source, field))
