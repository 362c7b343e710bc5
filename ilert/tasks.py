from celery import shared_task

from . import replay


@shared_task(name="ilert.tasks.prune_replays", ignore_result=True)
def prune_replays():
    """Forget the ids of webhook deliveries that would be refused anyway (ilert/replay.py)."""
    return replay.prune()
