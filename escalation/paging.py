"""The engine's two outward calls: page a user (the notifications service) and ask for an early
wake-up at the next due time (a Celery task; only an optimisation, the sweeper is the truth)."""

from ilert.kick import after_commit
from notifications.services import notify


def page(incident, user, *, round_tag, reason):
    return notify(incident, user, round_tag=round_tag, reason=reason)


def wake_up_at(incident, due):
    from .tasks import step

    after_commit(step, incident.pk, incident.escalation_level, incident.escalation_round, options={"eta": due})


def wake_up_now(incident):
    from .tasks import step

    after_commit(step, incident.pk, incident.escalation_level, incident.escalation_round)
