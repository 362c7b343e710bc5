"""Subscribes to alerts.events.incident_changed. Runs inside the incident's transaction: it only
writes outbox rows (ConnectionInvocation) and kicks the delivery task after commit; no I/O."""

from django.dispatch import receiver

from alerts import events
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


def _automatic_connections(source_id, batch):
    def load():
        return list(Connection.objects.filter(
            alert_source_id=source_id, enabled=True, trigger_mode=Connection.Trigger.AUTOMATIC,
            connector__enabled=True,
        ).select_related("connector"))

    if batch is None:
        return load()
    key = ("connectors.automatic", source_id)
    if key not in batch:  # one lookup per alert source for a whole bulk change
        batch[key] = load()
    return batch[key]


@receiver(incident_changed, dispatch_uid="connectors.on_incident_changed")
def on_incident_changed(sender, incident, kind, entry=None, actor=None, via="", batch=None, **kwargs):
    event = EVENT_FOR_KIND.get(kind)
    if event is None:
        return
    connections = [c for c in _automatic_connections(incident.alert_source_id, batch) if event in c.events]
    if not connections:
        return
    item = services.Enqueue(connections, incident, event, message=entry.message if entry is not None else "",
                            actor=actor, via=via, now=entry.at if entry is not None else None)
    if batch is None:
        services.enqueue_many([item])
        return
    if "connectors.pending" not in batch:  # a bulk change: one INSERT for all its invocations
        pending = batch["connectors.pending"] = []
        events.on_finish(batch, lambda: services.enqueue_many(pending))
    batch["connectors.pending"].append(item)
