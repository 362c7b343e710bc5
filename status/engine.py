"""Timed work: scheduled maintenance reminds (24 h and 1 h before), starts and ends on its own.

`StatusIncident.due_at` is the durable timer (a partial index). The sweeper claims due rows with
select_for_update(skip_locked), re-reads them locked, does what is due and sets the next due time
in the same transaction, so two sweepers never do the same step and a step that fails rolls back
and is due again at the next sweep.
"""

import logging

from django.db import transaction

from ilert import clock

from . import notices
from .models import StatusIncident
from .services import maintenance

log = logging.getLogger(__name__)
S = StatusIncident.Status


def step(incident, now):
    """Do what is due for one maintenance (locked by the caller); returns what it did."""
    did = []
    if incident.status == S.SCHEDULED:
        for level, delta in maintenance.REMINDERS:
            if incident.reminded < level and incident.scheduled_for - delta <= now < incident.scheduled_for:
                notices.announce_reminder(incident, int(delta.total_seconds() // 3600))
                incident.reminded = level
                did.append(f"reminded {delta}")
        if incident.reminded < len(maintenance.REMINDERS) and now >= incident.scheduled_for:
            incident.reminded = len(maintenance.REMINDERS)  # too late for reminders: it starts now
        StatusIncident.objects.filter(pk=incident.pk).update(reminded=incident.reminded)
        if incident.auto_transition and now >= incident.scheduled_for:
            maintenance.start_maintenance(incident, now=now)
            did.append("started")
    if incident.status in (S.IN_PROGRESS, S.VERIFYING) and incident.auto_transition \
            and now >= incident.scheduled_until:
        maintenance.complete_maintenance(incident, now=now)
        did.append("completed")
    incident.due_at = maintenance.next_due(incident, now)
    StatusIncident.objects.filter(pk=incident.pk).update(due_at=incident.due_at)
    return did


def tick(now=None, batch=50):
    now = now or clock.now()
    done = 0
    with transaction.atomic():
        due = list(StatusIncident.objects.select_for_update(skip_locked=True)
                   .filter(kind=StatusIncident.Kind.MAINTENANCE, due_at__lte=now).order_by("due_at")[:batch])
        for incident in due:
            if step(incident, now):
                done += 1
    return done
