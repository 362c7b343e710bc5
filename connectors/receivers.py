"""Subscribes to alerts.events.incident_changed. Runs inside the incident's transaction: it only
writes outbox rows (ConnectionInvocation) and kicks the delivery task after commit; no I/O."""

from django.dispatch import receiver

from alerts.events import incident_changed

from . import services
from .models import Connection

EVENT_FOR_KIND = {
    "created": "created",
    "assigned": "assigned",
    "escalated": "escalated",
    "accepted": "accepted",
    "resolved": "resolved",
    "commented": "comment_added",
}


@receiver(incident_changed, dispatch_uid="connectors.on_incident_changed")
def on_incident_changed(sender, incident, kind, entry=None, actor=None, via="", **kwargs):
    event = EVENT_FOR_KIND.get(kind)
    if event is None:
        return
    connections = [
        connection
        for connection in Connection.objects.filter(
            alert_source_id=incident.alert_source_id, enabled=True, trigger_mode=Connection.Trigger.AUTOMATIC,
            connector__enabled=True,
        ).select_related("connector")
        if event in connection.events
    ]
    if connections:
        services.enqueue(connections, incident, event, message=entry.message if entry is not None else "",
                         actor=actor, via=via, now=entry.at if entry is not None else None)
