"""Celery entry points: thin, idempotent (the claim makes a repeated task a no-op)."""

from celery import shared_task

from . import engine


@shared_task(name="connectors.tasks.deliver")
def deliver(ids):
    return engine.deliver(ids)


@shared_task(name="connectors.tasks.sweep")
def sweep():
    return engine.deliver_due()
