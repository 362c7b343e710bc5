"""Ingest: one inbound event becomes exactly one incident change, committed before the caller answers."""

import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from ilert import clock, metrics, statements
from ilert.errors import DomainError
from ilert.pgtext import without_nul

from .. import events, selectors
from ..ingest import EventType, InboundEvent, IngestResult, ResponseCode
from ..models import AlertSource, CreationMode, Incident, IncidentLogEntry, LogKind, MaintenanceWindow, Priority
from . import append, numbering
from .incidents import _accept_locked, _resolve_locked, log
from .sources import SourceDisabled

SUMMARY_MAX = 255
DETAILS_MAX = 64 * 1024
GROUP_KEY = "__group__"


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


def _validate(event):
    if event.event_type not in EventType.ALL:
        raise DomainError(f"Must be one of {', '.join(EventType.ALL)}.", field="event_type")
    if event.event_type == EventType.ALERT and not (event.summary or "").strip():
        raise DomainError("A summary is required for ALERT events.", field="summary")
    if event.priority is not None and event.priority not in Priority.values:
        raise DomainError("Must be HIGH or LOW.", field="priority")
    if len(event.incident_key or "") > 255:
        raise DomainError("At most 255 characters.", field="incident_key")


def _clean_event(event):
    for name in ("summary", "details", "incident_key", "routing_key", "via", "links", "images", "custom_details",
                 "labels"):
        setattr(event, name, without_nul(getattr(event, name)))


@metrics.observe_ingest
def ingest(source, event: InboundEvent, *, now=None) -> IngestResult:
    """Turn one inbound event into exactly one incident change, durably (committed on return).

    `source` may come from a cache (selectors.cached_source_for_key): the statements that find the
    incident also check that the source's row still is what `source` says (key, status, mode), and
    any miss reads the row afresh, so a revoked key or a disabled source stops at once."""
    _clean_event(event)
    _validate(event)
    if not source.is_active:
        raise SourceDisabled(f"The alert source {source.name!r} is disabled.")
    now = now or clock.now()
    attempt = append.Attempt(open=False)
    if event.event_type == EventType.ALERT and _may_be_open(source, event):
        attempt = append.try_append(source, event, _keys_for(source, event)[1], now)
        if attempt.incident is not None:
            return IngestResult(ResponseCode.EVENT_APPENDED, attempt.incident, attempt.incident.incident_key,
                                [attempt.incident])
    with transaction.atomic():
        if event.event_type == EventType.ALERT:
            return _ingest_alert(source, event, now, attempt=attempt)
        return _ingest_accept_or_resolve(source, event, now)


class SourceGone(DomainError):
    """The integration key was revoked or rotated (or its source deleted) since it was looked up."""

    status = 404
    code = "not_found"


# The source's columns ingest decides by: a statement that reads an incident through its source
# checks them, so a source from a cache acts only while it is still current.
_DECIDING = ("status", "creation_mode", "integration_type", "auto_resolve_minutes")


def _as_known(source, prefix="alert_source__"):
    known = {}
    for name in _DECIDING:
        value = getattr(source, name)
        known[f"{prefix}{name}__isnull" if value is None else f"{prefix}{name}"] = True if value is None else value
    presented = getattr(source, "presented_key_hash", None)
    if presented:  # looked up by a key: the key must still be the source's
        known[f"{prefix}key_hash"] = presented
    return known


def _maintenance_now(now, source_ref):
    return Exists(MaintenanceWindow.objects.filter(alert_source_id=source_ref, start__lte=now, end__gt=now))


def _current(source, now):
    """The source's row as it is now, with whether a maintenance window is on (one statement)."""
    presented = getattr(source, "presented_key_hash", None)
    fresh = (AlertSource.objects.filter(**({"key_hash": presented} if presented else {"pk": source.pk}))
             .annotate(maintenance_now=_maintenance_now(now, OuterRef("pk"))).first())
    if fresh is None or _changed(fresh, source):
        selectors.forget_cached_source(source)
    if fresh is None:
        raise SourceGone("Unknown integration key.")
    if not fresh.is_active:
        raise SourceDisabled(f"The alert source {fresh.name!r} is disabled.")
    fresh.presented_key_hash = presented
    return fresh, fresh.maintenance_now


def _changed(fresh, source):
    return fresh.pk != source.pk or any(getattr(fresh, name) != getattr(source, name) for name in _DECIDING)


def _may_be_open(source, event):
    """Whether an incident for this event may already be open (a new random key never is)."""
    if source.creation_mode == CreationMode.GROUP:
        return True
    return source.creation_mode != CreationMode.OPEN_NEW and bool((event.incident_key or "").strip())


def _keys_for(source, event):
    key = (event.incident_key or "").strip() or uuid.uuid4().hex
    if source.creation_mode == CreationMode.GROUP:
        return key, GROUP_KEY
    if source.creation_mode == CreationMode.OPEN_NEW:
        return key, None
    return key, key


def _open_incident(source, dedup_key, now):
    """The open incident for `dedup_key`, locked, with whether the source is in maintenance: one
    statement, which finds nothing if the source's row changed (see _as_known)."""
    incident = (
        Incident.objects.select_for_update(of=("self",))
        .filter(alert_source_id=source.pk, dedup_key=dedup_key, status__in=Incident.OPEN, **_as_known(source))
        .defer(*append.UNREAD)
        .annotate(maintenance_now=_maintenance_now(now, OuterRef("alert_source_id")))
        .first()
    )
    if incident is not None:
        incident.alert_source = source  # no second query for the source we already have
    return incident


def _ingest_alert(source, event, now, checked=False, attempt=None):
    """`attempt`: what the append statement just saw (append.Attempt): with no open incident for the
    key a new one is inserted at once (a concurrent twin is caught by the unique index), and with
    the source's row seen current, it is not read again."""
    attempt = attempt or append.Attempt()
    key, dedup_key = _keys_for(source, event)
    incident = _open_incident(source, dedup_key, now) if dedup_key and attempt.open else None
    if incident is None:
        if attempt.maintenance is None:
            fresh, maintenance = _current(source, now)
            if not checked and _changed(fresh, source):
                return _ingest_alert(fresh, event, now, checked=True)  # the cached source was stale
        else:
            fresh, maintenance = source, attempt.maintenance
        incident = _create(fresh, event, key, dedup_key, maintenance, now,
                           number=attempt.number if fresh is source else None)
        if incident is not None:
            code = ResponseCode.EVENT_IGNORED if maintenance else ResponseCode.NEW_INCIDENT_CREATED
            return IngestResult(code, incident, key, [incident])
        incident = _open_incident(fresh, dedup_key, now)  # a concurrent twin opened it first
        if incident is None:
            raise IntegrityError(f"incident key {dedup_key!r}: neither inserted nor found")
    maintenance = incident.maintenance_now
    _append(incident, event, now, maintenance)
    code = ResponseCode.EVENT_IGNORED if maintenance else ResponseCode.EVENT_APPENDED
    return IngestResult(code, incident, incident.incident_key, [incident])


def _create(source, event, key, dedup_key, maintenance, now, number=None):
    """Open the incident with its first timeline entries, or None when a concurrent twin holds the
    key (the unique index decides; nothing is written then but a skipped incident number)."""
    summary, details = _fit(event.summary, event.details)
    auto_resolve_at = None
    if source.auto_resolve_minutes:
        auto_resolve_at = now + timedelta(minutes=source.auto_resolve_minutes)
    incident = Incident(
        tenant_id=source.tenant_id, alert_source=source, summary=summary, details=details,
        priority=event.priority or source.default_priority, incident_key=key, dedup_key=dedup_key,
        links=event.links, images=event.images, custom_details=event.custom_details, labels=event.labels,
        created_at=now, last_event_at=now, in_maintenance=maintenance, routing_key=event.routing_key or "",
        escalation_policy_id=source.escalation_policy_id,
        # Due at once: the escalation engine starts level 1 (or says nobody can be reached).
        next_escalation_at=None if maintenance else now,
        auto_resolve_at=auto_resolve_at,
    )
    if not numbering.insert_numbered(incident, number=number):
        return None
    entries = [_entry(incident, LogKind.CREATED, f"Incident opened by {event.via}: {summary}", event.via, now),
               _entry(incident, LogKind.EVENT, f"{event.event_type} event received", event.via, now,
                      data=event.for_timeline())]
    if maintenance:
        entries.append(_entry(incident, LogKind.WARNING,
                              "The alert source is in a maintenance window: nobody is paged.", "system", now))
    IncidentLogEntry.objects.bulk_create(entries)  # one INSERT … RETURNING for all of them
    events.announce(incident, "created", entry=entries[0], via=event.via)
    return incident


def _entry(incident, kind, message, via, at, data=None):
    return IncidentLogEntry(tenant_id=incident.tenant_id, incident=incident, kind=kind, via=via, message=message,
                            data=data or {}, at=at)


def _append(incident, event, now, maintenance):
    """One statement: the incident's counters UPDATEd and its timeline entry INSERTed (the row is
    locked, so the values are current: no re-read)."""
    incident.event_count += 1
    incident.last_event_at = now
    values = {"event_count": incident.event_count, "last_event_at": now}
    if incident.alert_source.auto_resolve_minutes:
        incident.auto_resolve_at = values["auto_resolve_at"] = now + timedelta(
            minutes=incident.alert_source.auto_resolve_minutes)
    starts = False
    if incident.in_maintenance and not maintenance:
        # Opened during a maintenance window that is over now, and the alert still fires: page.
        incident.in_maintenance = values["in_maintenance"] = False
        starts = (incident.status == Incident.Status.PENDING and incident.escalation_level == 0
                  and incident.next_escalation_at is None)
        if starts:
            incident.next_escalation_at = values["next_escalation_at"] = now
    note = f"{event.event_type} event received" + (" (maintenance window: nobody paged)" if maintenance else "")
    entry = _entry(incident, LogKind.EVENT, note, event.via, now, data=event.for_timeline())
    # Not announced: an append is no domain event (alerts/services/append.py says why).
    statements.insert([entry], before=[statements.Update(Incident, values, pk=incident.pk)])
    if starts:
        entry = log(incident, LogKind.INFO, "maintenance window over: escalation starts", via="maintenance", at=now)
        # The escalation engine wakes up on "escalation_requested" (and its sweeper finds the due time anyway).
        events.announce(incident, "escalation_requested", entry=entry, via="maintenance")


def _ingest_accept_or_resolve(source, event, now, checked=False):
    key = (event.incident_key or "").strip()
    queryset = Incident.objects.select_for_update(of=("self",)).filter(
        alert_source_id=source.pk, status__in=Incident.OPEN, **_as_known(source))
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
        fresh, _maintenance = _current(source, now)  # nothing open, or the source changed: which?
        if not checked and _changed(fresh, source):
            return _ingest_accept_or_resolve(fresh, event, now, checked=True)
        return IngestResult(ResponseCode.EVENT_IGNORED, None, key, [])
    for incident in targets:
        incident.alert_source = source
        log(incident, LogKind.EVENT, f"{event.event_type} event received", via=event.via,
            data=event.for_timeline(), at=now)
        if event.event_type == EventType.ACCEPT:
            _accept_locked(incident, by=None, via=event.via, now=now)
        else:
            _resolve_locked(incident, by=None, via=event.via, now=now)
    code = ResponseCode.INCIDENT_ACCEPTED if event.event_type == EventType.ACCEPT else ResponseCode.INCIDENT_RESOLVED
    return IngestResult(code, targets[0], targets[0].incident_key, targets)
