"""Escalation listens to incident changes: a new incident or an escalation request is due now
(wake the engine right after commit); a person reassigning an incident pages the new assignee."""

from django.dispatch import receiver

from alerts.events import incident_changed

from . import paging, planner


@receiver(incident_changed, dispatch_uid="escalation.on_incident_changed")
def on_incident_changed(sender, changes, **kwargs):
    for change in changes:
        incident = change.incident
        what = planner.reaction(change.kind, due=incident.next_escalation_at is not None,
                                by_person=change.actor is not None, assignee=incident.assigned_to_id is not None)
        if what == planner.WAKE:
            paging.wake_up_now(incident)
        elif what == planner.PAGE_ASSIGNEE:
            paging.page(incident, incident.assigned_to, round_tag=f"assign-{change.entry.pk}",
                        reason=f"assigned by {change.actor.display_name}")
