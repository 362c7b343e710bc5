"""Status incidents and their updates: an update applies its status to the affected services (holds)
and is announced to subscribers; a closing status releases them."""

from django.db import transaction

from ilert import clock
from ilert.errors import Conflict, DomainError

from .. import notices
from ..models import (
    SEVERITY,
    AffectedService,
    IncidentUpdate,
    Service,
    ServiceHold,
    ServiceStatus,
    SourceLink,
    StatusIncident,
    StatusPage,
)
from .checks import may_write, same_tenant
from .holds import bump_pages, hold, recompute, release, touch_pages
from .windows import end_windows, open_windows

S = StatusIncident.Status
DEFAULT_TEMPLATE = "We are investigating problems with {service}."


def _affected(tenant, affected):
    """[(service, impact)] checked: this tenant's services, known statuses."""
    out = []
    for service, impact in affected:
        same_tenant(tenant, [service], "affected")
        if impact not in SEVERITY:
            raise DomainError(f"Unknown impact {impact!r}.", field="affected")
        out.append((service, impact))
    return out


def _components(incident, before, now):
    """Statuspage's affected_components of an update: the services whose status it changed."""
    after = dict(Service.objects.filter(pk__in=before).values_list("pk", "status"))
    names = dict(Service.objects.filter(pk__in=before).values_list("pk", "name"))
    codes = dict(Service.objects.filter(pk__in=before).values_list("pk", "code"))
    return [{"code": codes[pk], "name": names[pk], "old_status": before[pk], "new_status": after[pk]}
            for pk in before if pk in after and after[pk] != before[pk]]


def _statuses(service_ids):
    return dict(Service.objects.filter(pk__in=service_ids).values_list("pk", "status"))


def create_incident(tenant, *, title, message, status=S.INVESTIGATING, impact=StatusIncident.Impact.MINOR,
                    affected=(), by=None, alert_incident=None, restore_on_resolve=True, now=None):
    may_write(by)
    if status not in StatusIncident.INCIDENT_STATUSES:
        raise DomainError("An incident is investigating, identified, monitoring or resolved.", field="status")
    if not (message or "").strip():
        raise DomainError("Say what is happening.", field="message")
    affected = _affected(tenant, affected)
    now = now or clock.now()
    with transaction.atomic():
        incident = StatusIncident.objects.create(
            tenant=tenant, kind=StatusIncident.Kind.INCIDENT, title=title, status=status, impact=impact,
            alert_incident=alert_incident, restore_on_resolve=restore_on_resolve, created_at=now, updated_at=now)
        AffectedService.objects.bulk_create([
            AffectedService(tenant=tenant, incident=incident, service=service, impact=impact_)
            for service, impact_ in affected])
        record_update(incident, status=status, message=message, by=by, now=now)
    return incident


def post_update(incident, *, status, message, by=None, affected=None, now=None):
    """A new update; a closing status (resolved, completed) releases the services."""
    may_write(by)
    allowed = (StatusIncident.INCIDENT_STATUSES if incident.kind == StatusIncident.Kind.INCIDENT
               else StatusIncident.MAINTENANCE_STATUSES)
    if status not in allowed:
        raise DomainError(f"The status is one of {', '.join(allowed)}.", field="status")
    if not (message or "").strip():
        raise DomainError("Say what changed.", field="message")
    now = now or clock.now()
    with transaction.atomic():
        locked = StatusIncident.objects.select_for_update().get(pk=incident.pk)
        if not locked.is_open:
            raise Conflict("This incident is closed; open a new one.")
        if affected is not None:
            affected = _affected(locked.tenant, affected)
            AffectedService.objects.filter(incident=locked).exclude(
                service__in=[s for s, _ in affected]).delete()
            for service, impact in affected:
                AffectedService.objects.update_or_create(incident=locked, service=service,
                                                         defaults={"impact": impact, "tenant": locked.tenant})
        update = record_update(locked, status=status, message=message, by=by, now=now)
    incident.refresh_from_db()
    return update


def record_update(incident, *, status, message, by, now):
    """Record an update and apply it to the services (inside the caller's transaction)."""
    affected = list(AffectedService.objects.filter(incident=incident).values_list("service_id", "impact"))
    before = _statuses([pk for pk, _ in affected])
    cause = f"status-incident:{incident.pk}"
    label = f"{incident.get_kind_display().lower()} {incident.title!r}"
    if status in StatusIncident.CLOSED:
        release(cause, by=by, label=f"{label} {status}", now=now)
        if incident.kind == StatusIncident.Kind.MAINTENANCE:
            end_windows(incident)
    elif incident.kind == StatusIncident.Kind.INCIDENT or status in ("in_progress", "verifying"):
        impact_for = (lambda i: ServiceStatus.UNDER_MAINTENANCE) if incident.kind == "maintenance" else (lambda i: i)
        keep = [pk for pk, _ in affected]
        ServiceHold.objects.filter(cause=cause).exclude(service_id__in=keep).delete()
        hold(incident.tenant_id, [(pk, impact_for(impact), incident.restore_on_resolve) for pk, impact in affected],
             cause, by=by, label=label, now=now)
        recompute(keep, by=by, cause=label, now=now)
        if incident.kind == StatusIncident.Kind.MAINTENANCE and incident.silence_sources and not incident.window_ids:
            open_windows(incident, now)
    fields = {"status": status, "updated_at": now}
    if status == S.MONITORING and incident.monitoring_at is None:
        fields["monitoring_at"] = now
    if status in StatusIncident.CLOSED:
        fields["resolved_at"] = now
        fields["due_at"] = None
    StatusIncident.objects.filter(pk=incident.pk).update(**fields)
    for name, value in fields.items():
        setattr(incident, name, value)
    update = IncidentUpdate.objects.create(tenant_id=incident.tenant_id, incident=incident, status=status,
                                           message=message, at=now, author=by,
                                           affected_components=_components(incident, before, now))
    if affected:
        touch_pages([pk for pk, _ in affected], now=now)
    else:  # an incident naming no service shows on every page of the organisation
        bump_pages(StatusPage.objects.filter(tenant_id=incident.tenant_id).values_list("pk", flat=True), now)
    notices.announce_update(incident, update)
    return update


def from_alert_incident(alert_incident, *, by=None, template=DEFAULT_TEMPLATE, impact=ServiceStatus.PARTIAL,
                        title=""):
    """One click: a status incident for the services linked to the alert incident's source."""
    may_write(by)
    links = list(SourceLink.objects.filter(alert_source_id=alert_incident.alert_source_id).select_related("service"))
    services = [link.service for link in links]
    if not services:
        raise DomainError("No service is linked to this incident's alert source; link one first.",
                          field="alert_incident")
    names = ", ".join(s.name for s in services)
    try:
        message = template.format(service=names, summary=alert_incident.summary, number=alert_incident.number)
    except (KeyError, IndexError, ValueError):
        raise DomainError("The template may use {service}, {summary} and {number}.", field="template") from None
    return create_incident(alert_incident.tenant, title=title or f"Problems with {names}", message=message,
                           affected=[(s, impact) for s in services], by=by, alert_incident=alert_incident)


def delete_incident(incident, *, by=None):
    """Remove a status incident or maintenance (a mistake): its holds go, the services are restored."""
    may_write(by)
    with transaction.atomic():
        release(f"status-incident:{incident.pk}", by=by, label=f"{incident.title!r} deleted")
        if incident.kind == StatusIncident.Kind.MAINTENANCE:
            end_windows(incident)
        ids = list(AffectedService.objects.filter(incident=incident).values_list("service_id", flat=True))
        tenant_id = incident.tenant_id
        incident.delete()
        if ids:
            touch_pages(ids)
        else:
            bump_pages(StatusPage.objects.filter(tenant_id=tenant_id).values_list("pk", flat=True), clock.now())
