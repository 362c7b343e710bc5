"""Tenant-scoped reads of alert sources, incidents and change events."""

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
    return settings.SITE_URL + reverse("alerts:incident", args=[incident.pk])


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
