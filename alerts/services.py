"""Every change to alert sources and incidents. These functions are the only writers of incident
state (docs/architecture.md §2, "one door per state change"): the dashboard, the REST API, every inbound
integration, SMS/voice/push/email replies and the escalation engine all come through here.

Each change writes an IncidentLogEntry and announces a domain event (alerts.events) inside the
same transaction.
"""

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import Tenant
from ilert import bulk, clock, metrics
from ilert.errors import Conflict, DomainError, Forbidden

from . import events, inbound_numbers
from .ingest import EventType, InboundEvent, IngestResult, ResponseCode
from .integrations import registry
from .models import (
    AlertSource,
    ChangeEvent,
    CreationMode,
    Incident,
    IncidentLogEntry,
    LogKind,
    MaintenanceWindow,
    Priority,
    new_integration_key,
)

SUMMARY_MAX = 255
DETAILS_MAX = 64 * 1024
COMMENT_MAX = 5000
GROUP_KEY = "__group__"


class SourceDisabled(DomainError):
    status = 403
    code = "source_disabled"


# --- alert sources -----------------------------------------------------------------------------


def _check_policy(tenant, policy):
    if policy is not None and policy.tenant_id != tenant.pk:
        raise DomainError("Unknown escalation policy.", field="escalation_policy")


def _check_source_fields(fields):
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            raise DomainError("A name is required.", field="name")
    choices = {
        "integration_type": registry.names(), "default_priority": Priority.values,
        "creation_mode": CreationMode.values, "status": AlertSource.Status.values,
    }
    for name, allowed in choices.items():
        if name in fields and fields[name] not in allowed:
            raise DomainError(f"Must be one of {', '.join(allowed)}.", field=name)
    minutes = fields.get("auto_resolve_minutes")
    if minutes is not None and not (1 <= minutes <= 60 * 24 * 30):
        raise DomainError("Between 1 minute and 30 days (43200 minutes), or empty.", field="auto_resolve_minutes")
    if "options" in fields and not isinstance(fields["options"], dict):
        raise DomainError("Must be a JSON object.", field="options")
    for name, (low, high, text) in HEARTBEAT_LIMITS.items():
        value = fields.get(name)
        if name in fields and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high):
            raise DomainError(text, field=name)


HEARTBEAT_LIMITS = {
    "heartbeat_interval_seconds": (5, 31 * 86400, "Between 5 seconds and 31 days (2678400 seconds)."),
    "heartbeat_grace_seconds": (0, 7 * 86400, "Between 0 seconds and 7 days (604800 seconds)."),
}


def _clean_options(integration_type, fields, source=None):
    """Per-integration options (email rules, SMS number and senders, grouping) are checked by the
    integration's module (its INTEGRATION.clean_options)."""
    if "options" in fields:
        fields["options"] = registry.clean_options(integration_type, fields["options"], source=source)


def _heartbeat_timer(source, fields):
    """A changed interval or grace moves the pending deadline; a status change restarts the timer
    at the next ping (a source that was disabled is not overdue the moment it is enabled)."""
    if "status" in fields and fields["status"] != source.status:
        source.next_expected_at = None
    elif source.last_ping_at and not source.heartbeat_overdue and source.next_expected_at and (
        fields.get("heartbeat_interval_seconds", source.heartbeat_interval_seconds) != source.heartbeat_interval_seconds
        or fields.get("heartbeat_grace_seconds", source.heartbeat_grace_seconds) != source.heartbeat_grace_seconds
    ):
        seconds = fields.get("heartbeat_interval_seconds", source.heartbeat_interval_seconds) + fields.get(
            "heartbeat_grace_seconds", source.heartbeat_grace_seconds)
        source.next_expected_at = source.last_ping_at + timedelta(seconds=seconds)


def create_alert_source(tenant, *, name, integration_type=registry.DEFAULT, escalation_policy=None, **fields):
    fields.update(name=name, integration_type=integration_type)
    _check_source_fields(fields)
    _clean_options(integration_type, fields)
    _check_policy(tenant, escalation_policy)
    source = AlertSource(tenant=tenant, escalation_policy=escalation_policy, **fields)
    source.set_integration_key(new_integration_key())
    _save_source(source)
    return source


def update_alert_source(source, **fields):
    _check_source_fields(fields)
    _clean_options(fields.get("integration_type", source.integration_type), fields, source=source)
    if "escalation_policy" in fields:
        _check_policy(source.tenant, fields["escalation_policy"])
    _heartbeat_timer(source, fields)
    for key, value in fields.items():
        setattr(source, key, value)
    _save_source(source)
    return source


class NumberTaken(Conflict):
    code = "number_taken"


def _save_source(source):
    """Save, with the SMS number column in step with the options. The number's uniqueness across
    tenants is the database's (a unique index, no read-then-write race); the message says nothing
    about who has it."""
    previous = source.inbound_number if source.pk else None
    source.inbound_number = None
    if source.integration_type == "sms":  # alerts.integrations.sms: its options name the number
        source.inbound_number = (source.options or {}).get("phone_number") or None
    if source.inbound_number and source.inbound_number != previous:
        inbound_numbers.verify(source.tenant, source.inbound_number)  # proven with Twilio, not first-come
    try:
        with transaction.atomic():
            source.save()
    except IntegrityError:
        if source.inbound_number and AlertSource.objects.filter(
                inbound_number=source.inbound_number).exclude(pk=source.pk).exists():
            raise NumberTaken("This number cannot be used.", field="options") from None
        raise


def regenerate_integration_key(source):
    """A new key; the old one stops working at once."""
    source.set_integration_key(new_integration_key())
    source.save(update_fields=["key_hash", "folded_key_hash", "key_encrypted"])
    return source


def delete_alert_source(source):
    source.delete()


def add_maintenance_window(source, *, start, end, description=""):
    if end <= start:
        raise DomainError("The end must be after the start.", field="end")
    return MaintenanceWindow.objects.create(
        tenant=source.tenant, alert_source=source, start=start, end=end, description=description[:255]
    )


def delete_maintenance_window(window):
    window.delete()


# --- change events --------------------------------------------------------------------------------


def record_change(source, *, summary, source_name="", happened_at=None, custom_details=None, links=()):
    """Store a change event of `source` (a deploy, a config change). Nobody is paged."""
    if not source.is_active:
        raise SourceDisabled(f"The alert source {source.name!r} is disabled.")
    now = clock.now()
    return ChangeEvent.objects.create(
        tenant_id=source.tenant_id, alert_source=source, summary=summary[:1024], source=source_name[:255],
        happened_at=happened_at or now, received_at=now, custom_details=custom_details or {}, links=list(links),
    )


def prune_changes(now=None):
    """Forget change events older than ChangeEvent.RETENTION_DAYS (as PagerDuty does). Returns how many."""
    cutoff = (now or clock.now()) - timedelta(days=ChangeEvent.RETENTION_DAYS)
    deleted, _ = ChangeEvent.objects.filter(happened_at__lt=cutoff).delete()
    return deleted


def in_maintenance(source, at):
    return MaintenanceWindow.objects.filter(alert_source=source, start__lte=at, end__gt=at).exists()


# --- the timeline ------------------------------------------------------------------------------


def log(incident, kind, message="", *, actor=None, via="system", data=None, at=None):
    """Append to an incident's timeline. Other apps (notifications, connectors, escalation) record
    what they did through here."""
    return IncidentLogEntry.objects.create(
        tenant_id=incident.tenant_id, incident=incident, kind=kind, actor=actor, via=via,
        message=message, data=data or {}, at=at or clock.now(),
    )


# --- ingest ------------------------------------------------------------------------------------


def _fit(summary, details):
    """Summary cut to 255 characters (the rest is kept at the top of the details); details capped."""
    summary = " ".join((summary or "").split())
    if len(summary) > SUMMARY_MAX:
        rest = summary[SUMMARY_MAX - 1 :]
        summary = summary[: SUMMARY_MAX - 1] + "…"
        details = f"…{rest}\n\n{details}" if details else f"…{rest}"
    details = details or ""
    if len(details) > DETAILS_MAX:
        details = details[: DETAILS_MAX - 40] + "\n\n[details cut at 64 KiB]"
    return summary, details


def _next_number(tenant_id):
    # A plain UPDATE takes a FOR NO KEY UPDATE row lock, which (unlike SELECT … FOR UPDATE) does not
    # block the foreign-key checks of concurrent inserts that reference the tenant.
    Tenant.objects.filter(pk=tenant_id).update(last_incident_number=F("last_incident_number") + 1)
    return Tenant.objects.values_list("last_incident_number", flat=True).get(pk=tenant_id)


def _validate(event):
    if event.event_type not in EventType.ALL:
        raise DomainError(f"Must be one of {', '.join(EventType.ALL)}.", field="event_type")
    if event.event_type == EventType.ALERT and not (event.summary or "").strip():
        raise DomainError("A summary is required for ALERT events.", field="summary")
    if event.priority is not None and event.priority not in Priority.values:
        raise DomainError("Must be HIGH or LOW.", field="priority")
    if len(event.incident_key or "") > 255:
        raise DomainError("At most 255 characters.", field="incident_key")


def _without_nul(value):
    """PostgreSQL text and jsonb cannot hold NUL characters; inbound payloads sometimes do."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _clean_event(event):
    for name in ("summary", "details", "incident_key", "routing_key", "via", "links", "images", "custom_details",
                 "labels"):
        setattr(event, name, _without_nul(getattr(event, name)))


@metrics.observe_ingest
def ingest(source, event: InboundEvent, *, now=None) -> IngestResult:
    """Turn one inbound event into exactly one incident change, durably (committed on return)."""
    _clean_event(event)
    _validate(event)
    if not source.is_active:
        raise SourceDisabled(f"The alert source {source.name!r} is disabled.")
    now = now or clock.now()
    with transaction.atomic():
        if event.event_type == EventType.ALERT:
            return _ingest_alert(source, event, now)
        return _ingest_accept_or_resolve(source, event, now)


def _keys_for(source, event):
    key = (event.incident_key or "").strip() or uuid.uuid4().hex
    if source.creation_mode == CreationMode.GROUP:
        return key, GROUP_KEY
    if source.creation_mode == CreationMode.OPEN_NEW:
        return key, None
    return key, key


def _open_incident(source, dedup_key):
    incident = (
        Incident.objects.select_for_update()
        .filter(alert_source=source, dedup_key=dedup_key, status__in=Incident.OPEN)
        .first()
    )
    if incident is not None:
        incident.alert_source = source  # no second query for the source we already have
    return incident


def _ingest_alert(source, event, now):
    key, dedup_key = _keys_for(source, event)
    maintenance = in_maintenance(source, now)
    incident = _open_incident(source, dedup_key) if dedup_key else None
    if incident is None:
        try:
            with transaction.atomic():  # a savepoint: a concurrent twin may win the unique index
                incident = _create(source, event, key, dedup_key, maintenance, now)
        except IntegrityError:
            incident = _open_incident(source, dedup_key) if dedup_key else None
            if incident is None:
                raise
        else:
            code = ResponseCode.EVENT_IGNORED if maintenance else ResponseCode.NEW_INCIDENT_CREATED
            return IngestResult(code, incident, key, [incident])
    _append(incident, event, now, maintenance)
    code = ResponseCode.EVENT_IGNORED if maintenance else ResponseCode.EVENT_APPENDED
    return IngestResult(code, incident, incident.incident_key, [incident])


def _create(source, event, key, dedup_key, maintenance, now):
    summary, details = _fit(event.summary, event.details)
    auto_resolve_at = None
    if source.auto_resolve_minutes:
        auto_resolve_at = now + timedelta(minutes=source.auto_resolve_minutes)
    incident = Incident.objects.create(
        tenant_id=source.tenant_id,
        number=_next_number(source.tenant_id),
        alert_source=source,
        summary=summary,
        details=details,
        priority=event.priority or source.default_priority,
        incident_key=key,
        dedup_key=dedup_key,
        links=event.links,
        images=event.images,
        custom_details=event.custom_details,
        labels=event.labels,
        created_at=now,
        last_event_at=now,
        in_maintenance=maintenance,
        routing_key=event.routing_key or "",
        escalation_policy_id=source.escalation_policy_id,
        # Due at once: the escalation engine starts level 1 (or says nobody can be reached).
        next_escalation_at=None if maintenance else now,
        auto_resolve_at=auto_resolve_at,
    )
    entry = log(incident, LogKind.CREATED, f"Incident opened by {event.via}: {summary}", via=event.via, at=now)
    log(incident, LogKind.EVENT, f"{event.event_type} event received", via=event.via,
        data=event.for_timeline(), at=now)
    if maintenance:
        log(incident, LogKind.WARNING, "The alert source is in a maintenance window: nobody is paged.", at=now)
    events.announce(incident, "created", entry=entry, via=event.via)
    return incident


def _append(incident, event, now, maintenance):
    # The row is locked (select_for_update), so its values are current: one UPDATE, no re-read.
    incident.event_count += 1
    incident.last_event_at = now
    fields = ["event_count", "last_event_at"]
    if incident.alert_source.auto_resolve_minutes:
        incident.auto_resolve_at = now + timedelta(minutes=incident.alert_source.auto_resolve_minutes)
        fields.append("auto_resolve_at")
    starts = False
    if incident.in_maintenance and not maintenance:
        # Opened during a maintenance window that is over now, and the alert still fires: page.
        incident.in_maintenance = False
        fields.append("in_maintenance")
        starts = (incident.status == Incident.Status.PENDING and incident.escalation_level == 0
                  and incident.next_escalation_at is None)
        if starts:
            incident.next_escalation_at = now
            fields.append("next_escalation_at")
    incident.save(update_fields=fields)
    note = f"{event.event_type} event received" + (" (maintenance window: nobody paged)" if maintenance else "")
    entry = log(incident, LogKind.EVENT, note, via=event.via, data=event.for_timeline(), at=now)
    events.announce(incident, "appended", entry=entry, via=event.via)
    if starts:
        entry = log(incident, LogKind.INFO, "maintenance window over: escalation starts", via="maintenance", at=now)
        # The escalation engine wakes up on "escalation_requested" (and its sweeper finds the due time anyway).
        events.announce(incident, "escalation_requested", entry=entry, via="maintenance")


def _ingest_accept_or_resolve(source, event, now):
    key = (event.incident_key or "").strip()
    queryset = Incident.objects.select_for_update().filter(alert_source=source, status__in=Incident.OPEN)
    if source.creation_mode == CreationMode.GROUP:
        queryset = queryset.filter(dedup_key=GROUP_KEY)
    elif not key:
        raise DomainError(f"An incident key is required for {event.event_type} events.", field="incident_key")
    elif source.creation_mode == CreationMode.OPEN_NEW:
        queryset = queryset.filter(incident_key=key)
    else:
        queryset = queryset.filter(dedup_key=key)
    targets = list(queryset.order_by("created_at", "id"))
    if not targets:
        return IngestResult(ResponseCode.EVENT_IGNORED, None, key, [])
    for incident in targets:
        log(incident, LogKind.EVENT, f"{event.event_type} event received", via=event.via,
            data=event.for_timeline(), at=now)
        if event.event_type == EventType.ACCEPT:
            _accept_locked(incident, by=None, via=event.via, now=now)
        else:
            _resolve_locked(incident, by=None, via=event.via, now=now)
    code = ResponseCode.INCIDENT_ACCEPTED if event.event_type == EventType.ACCEPT else ResponseCode.INCIDENT_RESOLVED
    return IngestResult(code, targets[0], targets[0].incident_key, targets)


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
