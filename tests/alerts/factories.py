from datetime import timedelta

from alerts import services
from alerts.ingest import EventType, InboundEvent
from alerts.models import AlertSource, ChangeEvent, Incident, MaintenanceWindow
from ilert import clock
from tests.factories import register


def make_source(tenant, **fields):
    fields.setdefault("name", f"Source {AlertSource.objects.count() + 1}")
    return services.create_alert_source(tenant, **fields)


def alert(source, summary="Disk full on db-1", key="", **fields):
    return services.ingest(source, InboundEvent(event_type=EventType.ALERT, summary=summary, incident_key=key, **fields))


def make_incident(tenant=None, *, source=None, summary="Disk full on db-1", key="", **fields):
    return alert(source or make_source(tenant), summary, key, **fields).incident


def make_window(tenant, *, source=None, start=None, hours=1):
    start = start or clock.now() + timedelta(days=1)
    return services.add_maintenance_window(source or make_source(tenant), start=start, end=start + timedelta(hours=hours))


def make_change(tenant, *, source=None, summary="Deployed api v1.2.3", **fields):
    return services.record_change(source or make_source(tenant, integration_type="pagerduty"), summary=summary,
                                  **fields)


register(AlertSource, make_source)
register(Incident, make_incident)
register(MaintenanceWindow, make_window)
register(ChangeEvent, make_change)
