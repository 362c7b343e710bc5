from celery import shared_task

from . import engine


@shared_task(name="escalation.tasks.step", ignore_result=True)
def step(incident_id, expected_level, expected_round):
    return engine.step_due(incident_id, expected_level, expected_round)


@shared_task(name="escalation.tasks.sweep", ignore_result=True)
def sweep():
    return engine.tick()
