from celery import shared_task


@shared_task(name="ilert.tasks.prune_replays", ignore_result=True)
def prune_replays():
    """Forget the ids of webhook deliveries that would be refused anyway (ilert/replay.py)."""
    from . import replay

    return replay.prune()
