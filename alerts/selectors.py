"""Tenant-scoped reads of alert sources, incidents and change events."""

import functools
import threading
from datetime import timedelta

from django.conf import settings
from django.urls import reverse

from ilert import clock, secrets

from .models import AlertSource, ChangeEvent, Incident, IncidentLogEntry


def alert_sources(tenant):
    return AlertSource.objects.filter(tenant=tenant).select_related("escalation_policy")


def source_for_key(key):
    """The alert source an integration key addresses (any tenant: the key is the address), or None."""
    if not key or len(key) > 200:
        return None
    return AlertSource.objects.select_related("tenant").filter(key_hash=secrets.lookup_hash(key)).first()


# key hash -> AlertSource, per process. Only for callers that hand the source to services.ingest,
# whose statements check it against its row (key, status, mode) and read the row afresh on any
# miss: a revoked or rotated key, a disabled source, a changed mode act at once in every process.
# A change made in this process also drops the entry (signals in alerts.apps).
_SOURCES = {}
_SOURCES_MAX = 10_000
_SOURCES_LOCK = threading.Lock()


def cached_source_for_key(key):
    """source_for_key without a query while this process has seen the key, for services.ingest only
    (see _SOURCES). The source carries `presented_key_hash`, the key ingest checks it by."""
    if not key or len(key) > 200:
        return None
    key_hash = secrets.lookup_hash(key)
    source = _SOURCES.get(key_hash)
    if source is None or not source.is_active:  # a disabled source may be enabled again: ask the row
        source = AlertSource.objects.filter(key_hash=key_hash).first()
        if source is None:
            return None
        source.presented_key_hash = key_hash
        with _SOURCES_LOCK:
            if len(_SOURCES) >= _SOURCES_MAX:
                _SOURCES.clear()
            _SOURCES[key_hash] = source
    # Shared by the requests of this process (threads too): ingest only reads it; a change is saved
    # on an instance of its own (services), and a stale one is replaced, never modified.
    return source


def forget_cached_source(source):
    """Drop a source from this process's cache (a change saved or deleted here)."""
    with _SOURCES_LOCK:
        for key_hash in [h for h, cached in _SOURCES.items() if cached.pk == source.pk]:
            del _SOURCES[key_hash]


def email_sources_for(message):
    """The email alert sources an inbound message (anymail's AnymailInboundMessage) is addressed to."""
    from .integrations.email import sources_for  # here, not on top: email imports base, which imports selectors

    return sources_for(message)


def incidents(tenant):
    return Incident.objects.filter(tenant=tenant).select_related("alert_source", "assigned_to")


def open_incidents(tenant):
    return incidents(tenant).filter(status__in=Incident.OPEN)


def incident_url(incident):
    """The incident's page on the dashboard, as an absolute URL (for messages, payloads, APIs)."""
    return settings.SITE_URL + _incident_path(incident.pk)


@functools.lru_cache(maxsize=4096)
def _incident_path(pk):
    """Remembered: every Event API answer carries it, an alert storm repeats a few incidents, and
    resolving the URL was a good part of an appended event's Python (docs/scaling.md)."""
    return reverse("alerts:incident", args=[pk])


def timeline(incident):
    return IncidentLogEntry.objects.filter(incident=incident).select_related("actor").order_by("at", "id")


def changes(tenant):
    return ChangeEvent.objects.filter(tenant=tenant).select_related("alert_source")


# Changes shown beside an incident: those of its source from this long before it opened until it
# was resolved (or now).
CHANGES_BEFORE = timedelta(hours=4)


def changes_near(incident, limit=20):
    until = incident.resolved_at or clock.now()
    return (ChangeEvent.objects.filter(alert_source_id=incident.alert_source_id,
                                       happened_at__gte=incident.created_at - CHANGES_BEFORE, happened_at__lte=until)
            .order_by("-happened_at", "-id")[:limit])
