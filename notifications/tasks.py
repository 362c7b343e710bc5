"""Celery entry points: thin and idempotent (a repeated task finds nothing left to claim).

In a worker the provider calls are handed to the sender threads (notifications.senders) and the
task returns: a worker thread is never held by a slow provider. Run eagerly or called directly (a
test, a shell) they wait for the calls, like a plain function call.
"""

from celery import shared_task

from . import engine


def _in_worker(task):
    return not (task.request.called_directly or task.request.is_eager)


@shared_task(name="notifications.tasks.send", bind=True)
def send(self, ids):
    """The early wake-up kicked after commit: send these notifications (and their bundle mates)."""
    return engine.dispatch(ids=list(ids), wait=not _in_worker(self))


@shared_task(name="notifications.tasks.sweep", bind=True)
def sweep(self):
    """Ticked by beat: everything due that no kick handled, stuck sends, shift reminders."""
    return engine.tick(wait=not _in_worker(self))
