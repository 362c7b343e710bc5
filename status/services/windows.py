"""The alert-source maintenance windows a status maintenance opens while it runs (planned work pages
nobody) and ends when it is over."""

from datetime import timedelta

from alerts import services as alert_services
from alerts.models import AlertSource, MaintenanceWindow
from ilert import clock

from ..models import AffectedService, SourceLink, StatusIncident


def _sources_of(incident):
    service_ids = AffectedService.objects.filter(incident=incident).values_list("service_id", flat=True)
    return list(AlertSource.objects.filter(
        pk__in=SourceLink.objects.filter(service_id__in=service_ids).values_list("alert_source_id", flat=True)))


def open_windows(incident, now):
    """Planned work pages nobody: a maintenance window on every linked alert source until the end."""
    ids = []
    for source in _sources_of(incident):
        window = alert_services.add_maintenance_window(
            source, start=now, end=max(incident.scheduled_until, now + timedelta(minutes=1)),
            description=f"Status page maintenance: {incident.title}"[:255])
        ids.append(window.pk)
    StatusIncident.objects.filter(pk=incident.pk).update(window_ids=ids)
    incident.window_ids = ids


def end_windows(incident):
    """Ended early (or on time): the windows it opened end now."""

    for window in MaintenanceWindow.objects.filter(pk__in=incident.window_ids or []):
        if window.end > clock.now():
            alert_services.delete_maintenance_window(window)
