"""Domain events: how alerts tells the other apps that an incident changed, without knowing them.

`incident_changed` is sent synchronously, inside the transaction that made the change, so a
subscriber's outbox rows (notifications, connector invocations) commit or roll back with it.
Subscribers never do I/O here: they write rows and publish tasks with ilert.kick.after_commit.

Kinds: created, appended, assigned, escalation_requested, escalated, accepted, resolved, commented.
Receivers get: incident, kind, entry (the IncidentLogEntry written), actor (User or None), via, and
`batch`: a dict shared by every announcement of one bulk change (the escalation engine's batch),
where a receiver may memoise lookups for that change only, and defer its writes to the end of the
change with `on_finish(batch, fn)` (one INSERT for the whole batch); None for a single change. The
one making the bulk change calls `finish(batch)` after its last announcement.
"""

from django.dispatch import Signal

incident_changed = Signal()

KINDS = ("created", "appended", "assigned", "escalation_requested", "escalated", "accepted", "resolved", "commented")


def announce(incident, kind, *, entry=None, actor=None, via="", batch=None):
    assert kind in KINDS, kind
    incident_changed.send(sender=type(incident), incident=incident, kind=kind, entry=entry, actor=actor, via=via,
                          batch=batch)


def on_finish(batch, fn):
    """Run `fn` when the bulk change that `batch` belongs to is finished (still in its transaction)."""
    batch.setdefault(_ON_FINISH, []).append(fn)


def finish(batch):
    for fn in batch.pop(_ON_FINISH, []):
        fn()


_ON_FINISH = "events.on_finish"
