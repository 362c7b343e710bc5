"""Escalation listens to incident changes: a new incident or an escalation request is due now
(wake the engine right after commit); a person reassigning an incident pages the new assignee."""

from django.dispatch import receiver

from alerts.events import incident_changed

from . import paging


@receiver(incident_changed, dispatch_uid="escalation.on_incident_changed")
def on_incident_changed(sender, changes, **kwargs):
    for change in changes:
        incident = change.incident
        if change.kind in ("created", "escalation_requested") and incident.next_escalation_at is not None:
            paging.wake_up_now(incident)
        elif change.kind == "assigned" and change.actor is not None and incident.assigned_to is not None:
            paging.page(incident, incident.assigned_to, round_tag=f"assign-{change.entry.pk}",
                        reason=f"assigned by {change.actor.display_name}")
