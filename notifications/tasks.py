"""Celery entry points: thin and idempotent (a repeated task finds nothing left to claim)."""

from celery import shared_task

from . import engine


@shared_task(name="notifications.tasks.send")
def send(ids):
    """The early wake-up kicked after commit: send these notifications (and their bundle mates)."""
    return engine.dispatch(ids=list(ids))


@shared_task(name="notifications.tasks.sweep")
def sweep():
    """Ticked by beat: everything due that no kick handled, stuck sends, shift reminders."""
    return engine.tick()
