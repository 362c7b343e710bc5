"""Celery entry point (thin): the ticker folds dirty incidents into the report roll-ups."""

from celery import shared_task

from . import rollups


@shared_task(name="reports.tasks.sweep")
def sweep():
    rollups.sweep()
