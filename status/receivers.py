"""Subscribes to alerts.events.incident_changed (as connectors do): an alert incident of a linked
source, or the down incident of a linked uptime monitor, holds the service at the link's status
while it is open, and releases it on resolve. Runs inside the incident's transaction and writes
rows only (holds, history, notices' outbox rows)."""

from django.db import connection
from django.dispatch import receiver

from alerts.events import incident_changed
from uptime.models import UptimeMonitor

from . import services
from .models import MonitorLink, SourceLink


def _links(incident):
    """[(service id, status, restore)] the incident holds: source links, and monitor links when it is a
    monitor's down incident."""
    items = _source_links(incident.alert_source_id)
    if incident.incident_key.startswith("uptime-"):
        monitor_ids = (UptimeMonitor.objects.filter(alert_source_id=incident.alert_source_id)
                       .values_list("pk", flat=True))
        monitor_ids = [pk for pk in monitor_ids if incident.incident_key == f"uptime-{pk}"]
        items += [(link.service_id, link.status_while_down, link.restore_on_resolve)
                  for link in MonitorLink.objects.filter(monitor_id__in=monitor_ids).exclude(status_while_down="")]
    return items


def _source_links(source_id):
    """Every new incident asks; most sources have no links. A plain statement answers in a fraction
    of the Python the ORM spends building it (a sixth of a new incident's time in the web, py-spy
    under bench/notify), as connectors.receivers does for connections."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT service_id, status_while_open, restore_on_resolve FROM {SourceLink._meta.db_table} "  # noqa: S608
            "WHERE alert_source_id = %s AND status_while_open <> ''", [source_id])
        return [(service_id, status, bool(restore)) for service_id, status, restore in cursor.fetchall()]


@receiver(incident_changed, dispatch_uid="status.on_incident_changed")
def on_incident_changed(sender, changes, **kwargs):
    for change in changes:
        if change.kind not in ("created", "resolved"):
            continue
        incident = change.incident
        cause = f"incident:{incident.pk}"
        label = f"alert incident #{incident.number}"
        if change.kind == "created":
            items = _links(incident)
            if items:
                services.hold(incident.tenant_id, items, cause, label=f"{label} opened")
        else:
            services.release(cause, label=f"{label} resolved")
