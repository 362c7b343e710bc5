"""The incident as connectors see it: a JSON snapshot taken when the event happens, stored on the
invocation (so every retry sends the same thing), and the default bodies built from it."""

import json

from django.conf import settings

from alerts.models import Incident
from alerts.selectors import incident_url
from alerts.services import DETAILS_MAX, SUMMARY_MAX

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


# One line of alert text as monitoring tools write it: mostly ASCII, some non-ASCII (umlauts, a
# warning sign), so the JSON escapes of a realistic incident are in the figures.
_LINE = "CPU 93% on db-1.prod (Größe /var/lib/postgresql: 12 GiB, ⚠ load 17.2) — see runbook; "


def _text(length):
    return (_LINE * (length // len(_LINE) + 1))[:length]


def worst_case_sample():
    """The largest incident the inbound integrations accept, to check templates against when they
    are saved: a summary of 255 characters, 64 KiB of details (alerts.services caps them), 100
    labels and 50 links at their limits (alerts.integrations.base), and custom details filling the
    rest of the largest request body (DATA_UPLOAD_MAX_MEMORY_SIZE) as an Alertmanager group does."""
    payload = sample()
    incident = payload["incident"]
    incident.update(
        summary=_text(SUMMARY_MAX), details=_text(DETAILS_MAX),
        labels={f"label_{i:03d}_" + "k" * 110: _text(500) for i in range(100)},
        links=[{"href": "https://grafana.example.com/d/" + "x" * 1960, "text": _text(2000)} for _ in range(50)],
    )
    used = len(json.dumps(incident, ensure_ascii=False).encode())
    alerts, size = [], 0
    while used + size < settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        alert = {"status": "firing", "labels": {"alertname": "HighCPU", "instance": f"db-{len(alerts)}.prod:9100",
                                                "severity": "critical", "job": "node"},
                 "annotations": {"summary": _text(120), "description": _text(400)},
                 "startsAt": "2026-01-01T00:00:00Z", "fingerprint": f"{len(alerts):016x}",
                 "generatorURL": "https://prometheus.example.com/graph?g0.expr=" + "x" * 200}
        alerts.append(alert)
        size += len(json.dumps(alert, ensure_ascii=False).encode())
    incident["custom_details"] = {"groupKey": "{}:{alertname=\"HighCPU\"}", "alerts": alerts}
    return payload
