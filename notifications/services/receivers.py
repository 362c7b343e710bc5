"""What notifications does when an incident changes (alerts.events.incident_changed)."""

from .notices import queue_notices
from .outbox import cancel_pending
from .reply_codes import release_reply_codes


def on_incident_changed(sender, changes, **kwargs):
    """alerts.events.incident_changed receiver (inside the changing transaction: rows only)."""
    for change in changes:
        if change.kind in ("accepted", "resolved"):
            who = change.actor.display_name if change.actor is not None else (change.via or "an integration")
            cancel_pending(change.incident, f"{change.kind} by {who}")
            queue_notices(change.incident, change.kind, change.actor)
        if change.kind == "resolved":
            release_reply_codes(change.incident)

