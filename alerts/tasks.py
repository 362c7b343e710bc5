from celery import shared_task

from . import engine, services


@shared_task(name="alerts.tasks.sweep")
def sweep():
    return engine.auto_resolve_due()


@shared_task(name="alerts.tasks.sweep_heartbeats")
def sweep_heartbeats():
    return engine.heartbeats_overdue()


@shared_task(name="alerts.tasks.prune_changes", ignore_result=True)
def prune_changes():
    return services.prune_changes()
