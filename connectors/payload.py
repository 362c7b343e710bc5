"""The incident as connectors see it: a JSON snapshot taken when the event happens, stored on the
invocation (so every retry sends the same thing), and the default bodies built from it."""

from django.conf import settings

from alerts.models import Incident
from alerts.selectors import incident_url

from .models import Event


def _user(user):
    if user is None:
        return None
    return {"id": user.pk, "name": user.display_name, "email": user.email}


def _iso(value):
    return value.isoformat() if value else None


def snapshot(incident, event, *, message="", actor=None, via="", at=None):
    """{"event": {...}, "incident": {...}} — what every target renders from."""
    source = incident.alert_source
    return {
        "event": {
            "type": event,
            "label": Event(event).label,
            "message": message,
            "actor": _user(actor),
            "via": via,
            "at": _iso(at),
        },
        "incident": {
            "id": incident.pk,
            "number": incident.number,
            "status": incident.status,
            "summary": incident.summary,
            "details": incident.details,
            "priority": incident.priority,
            "incident_key": incident.incident_key,
            "alert_source": {"id": source.pk, "name": source.name},
            "assigned_to": _user(incident.assigned_to),
            "accepted_by": _user(incident.accepted_by),
            "resolved_by": _user(incident.resolved_by),
            "created_at": _iso(incident.created_at),
            "accepted_at": _iso(incident.accepted_at),
            "resolved_at": _iso(incident.resolved_at),
            "links": incident.links,
            "labels": incident.labels,
            "custom_details": incident.custom_details,
            "url": incident_url(incident),
            "api_url": settings.SITE_URL + f"/api/v1/incidents/{incident.pk}",
        },
    }


def template_context(payload):
    return {"incident": payload["incident"], "event": payload["event"], "payload": payload}


def default_body(payload):
    """The default JSON body of webhook and function targets (the Standard Webhooks envelope)."""
    return {
        "type": f"incident.{payload['event']['type']}",
        "timestamp": payload["event"]["at"],
        "data": payload,
    }


def status_line(incident):
    status = {"PENDING": "Pending", "ACCEPTED": "Accepted", "RESOLVED": "Resolved"}.get(incident["status"],
                                                                                       incident["status"])
    who = ""
    if incident["status"] == "RESOLVED" and incident.get("resolved_by"):
        who = f" by {incident['resolved_by']['name']}"
    elif incident["status"] == "ACCEPTED" and incident.get("accepted_by"):
        who = f" by {incident['accepted_by']['name']}"
    return status + who


def sample(tenant=None):
    """A made-up incident to check templates against when they are saved."""
    return {
        "event": {"type": "created", "label": "Incident created", "message": "Incident opened", "actor": None,
                  "via": "api", "at": "2026-01-01T00:00:00+00:00"},
        "incident": {
            "id": 1, "number": 1, "status": Incident.Status.PENDING, "summary": "Disk full on db-1",
            "details": "93% used", "priority": "HIGH", "incident_key": "db-1-disk",
            "alert_source": {"id": 1, "name": "Prometheus"}, "assigned_to": None, "accepted_by": None,
            "resolved_by": None, "created_at": "2026-01-01T00:00:00+00:00", "accepted_at": None,
            "resolved_at": None, "links": [], "labels": {}, "custom_details": {},
            "url": settings.SITE_URL + "/incidents/1/", "api_url": settings.SITE_URL + "/api/v1/incidents/1",
        },
    }
