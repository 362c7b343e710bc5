"""Marks changed incidents dirty, inside the changing transaction (docs/reports.md, "Roll-ups").

One small upsert per change, no reads and no I/O: the sweeper folds dirty incidents into the
roll-ups later, so a report never slows down (or fails) the change itself. An event appended to an
open incident is no domain event and marks nothing: the fold finds it by its event count
(reports.rollups.behind_facts)."""

from .models import DirtyIncident

KINDS = {"created", "assigned", "accepted", "resolved", "escalation_requested"}


def mark_dirty(sender, changes, **kwargs):
    incidents = {change.incident.pk: change.incident.tenant_id for change in changes if change.kind in KINDS}
    if incidents:
        # Sorted: two transactions marking the same incidents lock their rows in the same order.
        DirtyIncident.objects.bulk_create(
            [DirtyIncident(incident_id=pk, tenant_id=incidents[pk]) for pk in sorted(incidents)],
            update_conflicts=True, unique_fields=["incident"], update_fields=["token"])
