"""Celery entry points (thin, idempotent): the sweeper the ticker runs, and the kick after a notice."""

from celery import shared_task

from . import engine, outbox


@shared_task(name="status.tasks.sweep")
def sweep():
    """Maintenance steps that are due, notices whose sender died, then due notices."""
    engine.tick()
    outbox.reconcile()
    return outbox.dispatch()


@shared_task(name="status.tasks.deliver")
def deliver():
    """An early wake-up after notices were written; the sweep sends them anyway."""
    return outbox.dispatch()
