"""The engine's two outward calls: page users (the notifications service) and ask for an early
wake-up at the next due time (a Celery task; only an optimisation, the beat sweeper is the truth)."""

from datetime import timedelta

from ilert import clock, kick
from ilert.kick import after_commit
from notifications.services import notify, notify_many

# Wake-ups further out are left to the sweeper: a far-future ETA task only sits in a worker's
# memory (and Redis redelivers unacknowledged messages after its visibility timeout).
WAKE_UP_HORIZON = timedelta(minutes=10)


def page(incident, user, *, round_tag, reason):
    return notify(incident, user, round_tag=round_tag, reason=reason)


def page_many(requests):
    """requests: [(incident, user, round_tag, reason)]."""
    return notify_many(requests)


def wake_up_at(due):
    """One sweep at `due`, after commit: it performs every step due by then, however many (a storm's
    batch shares one due time: one task, not one per incident)."""
    from .tasks import sweep  # a cycle: escalation.tasks → engine → this module

    if due - clock.now() <= WAKE_UP_HORIZON:
        after_commit(sweep, helpers=0, wake_early=False, options={"eta": due})


def more_sweeps(count):
    """Helpers for a backlog that is already committed: published at once, not after commit."""
    from .tasks import sweep  # a cycle (above)

    for _ in range(count):
        kick.now(sweep, helpers=0, wake_early=False)


def sweep_at(due):
    """One sweep at `due`, sooner than the next beat (it asks for no further early sweep)."""
    from .tasks import sweep  # a cycle (above)

    kick.now(sweep, wake_early=False, options={"eta": due})


# The name of the coalesced kick for "a step is due now" (ilert/kick.py): a storm of new incidents
# sends one message per tick the worker can take, not one per incident.
STEP_KICK = "escalation.step"


def wake_up_now(incident):
    from .tasks import step  # a cycle (above)

    kick.coalesced(step, STEP_KICK, incident.pk, incident.escalation_level, incident.escalation_round)
