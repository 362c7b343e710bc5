"""Tenant-scoped reads of alert sources and incidents."""

from django.conf import settings
from django.urls import reverse

from ilert import secrets

from .models import AlertSource, Incident, IncidentLogEntry


def alert_sources(tenant):
    return AlertSource.objects.filter(tenant=tenant).select_related("escalation_policy")


def source_for_key(key):
    """The alert source an integration key addresses (any tenant: the key is the address), or None."""
    if not key or len(key) > 200:
        return None
    return AlertSource.objects.select_related("tenant").filter(key_hash=secrets.lookup_hash(key)).first()


def email_sources_for(message):
    """The email alert sources an inbound message (anymail's AnymailInboundMessage) is addressed to."""
    from .integrations.email import sources_for

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
