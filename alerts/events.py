"""Domain events: how alerts tells the other apps that an incident changed, without knowing them.

`incident_changed` is sent synchronously, inside the transaction that made the change, so a
subscriber's outbox rows (notifications, connector invocations) commit or roll back with it.
Subscribers never do I/O here: they write rows and publish tasks with ilert.kick.after_commit.

Receivers get `changes`: a list of `Change` (incident, kind, entry, actor, via). A single change
is a list of one; a bulk change (the escalation engine's batch of hundreds) comes as one list, so a
receiver looks up what it needs once and writes its rows in one statement.

Kinds: created, assigned, escalation_requested, escalated, accepted, resolved, commented. An event
appended to an open incident is not announced: it changes only the incident's counters and its
timeline, on the hottest path there is (one statement, alerts/services/append.py); nothing reacts
to it but the reports' roll-ups, which find it by its event count (reports.rollups.behind_facts).
"""

from django.dispatch import Signal

incident_changed = Signal()

KINDS = ("created", "assigned", "escalation_requested", "escalated", "accepted", "resolved", "commented")


class Change:
    """One change of one incident. `entry` is the IncidentLogEntry written for it; a bulk change may
    give a function that builds it instead, so receivers that ignore the change never pay for it."""

    __slots__ = ("incident", "kind", "actor", "via", "_entry")

    def __init__(self, incident, kind, *, entry=None, actor=None, via=""):
        assert kind in KINDS, kind
        self.incident, self.kind, self.actor, self.via, self._entry = incident, kind, actor, via, entry

    @property
    def entry(self):
        if callable(self._entry):
            self._entry = self._entry()
        return self._entry

    def __repr__(self):
        return f"Change({self.kind} #{self.incident.pk} via {self.via or '-'})"


def announce(incident, kind, *, entry=None, actor=None, via=""):
    announce_many([Change(incident, kind, entry=entry, actor=actor, via=via)])


def announce_many(changes):
    if changes:
        incident_changed.send(sender=Change, changes=changes)
