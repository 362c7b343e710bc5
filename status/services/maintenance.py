"""Scheduled maintenance: announced ahead, reminded (24 h and 1 h before), started and completed by
the maintenance engine (status/engine.py) at its times unless run by hand."""

from datetime import timedelta

from django.db import transaction

from ilert import clock, kick
from ilert.errors import DomainError

from ..models import AffectedService, ServiceStatus, StatusIncident
from .checks import may_write, same_tenant
from .incidents import post_update, record_update

S = StatusIncident.Status
REMINDERS = ((1, timedelta(hours=24)), (2, timedelta(hours=1)))


def next_due(incident, now):
    """When the maintenance engine next has work: a reminder, the start or the end."""
    if incident.status in StatusIncident.CLOSED or not incident.auto_transition and incident.status != S.SCHEDULED:
        return None
    if incident.status == S.SCHEDULED:
        times = [incident.scheduled_for - delta for level, delta in REMINDERS if incident.reminded < level
                 and incident.scheduled_for - delta > incident.created_at]
        if incident.auto_transition:
            times.append(incident.scheduled_for)
        return min(times) if times else None
    return incident.scheduled_until


def schedule_maintenance(tenant, *, title, message, scheduled_for, scheduled_until, affected=(), by=None,
                         auto_transition=True, silence_sources=False, now=None):
    """`affected`: services (shown as under maintenance while it runs)."""
    may_write(by)
    if scheduled_until <= scheduled_for:
        raise DomainError("The end must be after the start.", field="scheduled_until")
    if not (message or "").strip():
        raise DomainError("Say what will happen.", field="message")
    services = list(affected)
    same_tenant(tenant, services, "affected")
    now = now or clock.now()
    with transaction.atomic():
        incident = StatusIncident.objects.create(
            tenant=tenant, kind=StatusIncident.Kind.MAINTENANCE, title=title, status=S.SCHEDULED,
            impact=StatusIncident.Impact.MAINTENANCE,
            scheduled_for=scheduled_for, scheduled_until=scheduled_until, auto_transition=auto_transition,
            silence_sources=silence_sources, created_at=now, updated_at=now)
        AffectedService.objects.bulk_create([
            AffectedService(tenant=tenant, incident=incident, service=service,
                            impact=ServiceStatus.UNDER_MAINTENANCE) for service in services])
        # Reminders already inside their window when it is scheduled are not sent (the notice says it).
        incident.reminded = sum(1 for level, delta in REMINDERS if scheduled_for - delta <= now)
        incident.due_at = next_due(incident, now)
        StatusIncident.objects.filter(pk=incident.pk).update(reminded=incident.reminded, due_at=incident.due_at)
        record_update(incident, status=S.SCHEDULED, message=message, by=by, now=now)
    if incident.due_at is not None:
        from .. import tasks  # a cycle: status.tasks → status.engine → these services

        kick.after_commit(tasks.sweep, options={"eta": incident.due_at})
    return incident


def start_maintenance(incident, *, by=None, now=None, message="The scheduled maintenance has started."):
    return post_update(incident, status=S.IN_PROGRESS, message=message, by=by, now=now)


def complete_maintenance(incident, *, by=None, now=None, message="The scheduled maintenance is complete."):
    return post_update(incident, status=S.COMPLETED, message=message, by=by, now=now)
