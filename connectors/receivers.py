"""Subscribes to alerts.events.incident_changed. Runs inside the incident's transaction: it only
writes outbox rows (ConnectionInvocation) and kicks the delivery task after commit; no I/O."""

from django import db
from django.dispatch import receiver

from alerts.events import incident_changed

from . import services
from .models import Connection, Connector

EVENT_FOR_KIND = {
    "created": "created",
    "assigned": "assigned",
    "escalated": "escalated",
    "accepted": "accepted",
    "resolved": "resolved",
    "commented": "comment_added",
}


def _automatic_connections(source_id):
    if not _has_automatic_connections(source_id):
        return []
    return list(Connection.objects.filter(
        alert_source_id=source_id, enabled=True, trigger_mode=Connection.Trigger.AUTOMATIC, connector__enabled=True,
    ).select_related("connector"))


def _has_automatic_connections(source_id):
    """Most sources have none: a plain index lookup answers that in a tenth of the time the query
    above takes to build and run (every new incident asks)."""
    with db.connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {Connection._meta.db_table} AS c JOIN {Connector._meta.db_table} AS k "  # noqa: S608
            "ON k.id = c.connector_id "
            "WHERE c.alert_source_id = %s AND c.enabled AND c.trigger_mode = %s AND k.enabled LIMIT 1",
            [source_id, Connection.Trigger.AUTOMATIC])
        return cursor.fetchone() is not None


@receiver(incident_changed, dispatch_uid="connectors.on_incident_changed")
def on_incident_changed(sender, changes, **kwargs):
    """One lookup per alert source and one INSERT for all the invocations of the changes (a bulk
    change of the escalation engine announces hundreds at once)."""
    by_source, items = {}, []
    for change in changes:
        event = EVENT_FOR_KIND.get(change.kind)
        if event is None:
            continue
        source_id = change.incident.alert_source_id
        if source_id not in by_source:
            by_source[source_id] = _automatic_connections(source_id)
        connections = [c for c in by_source[source_id] if event in c.events]
        if connections:
            entry = change.entry
            items.append(services.Enqueue(connections, change.incident, event,
                                          message=entry.message if entry is not None else "", actor=change.actor,
                                          via=change.via, now=entry.at if entry is not None else None))
    if items:
        services.enqueue_many(items)
