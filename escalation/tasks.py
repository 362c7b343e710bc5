from celery import shared_task

from . import engine


@shared_task(name="escalation.tasks.step", ignore_result=True)
def step(incident_id, expected_level, expected_round):
    return engine.step_due(incident_id, expected_level, expected_round)


# A storm (a full batch due at once) brings this many more sweeps onto idle worker threads.
STORM_HELPERS = 4


@shared_task(name="escalation.tasks.sweep", ignore_result=True)
def sweep(helpers=STORM_HELPERS, wake_early=True):
    return engine.tick(helpers=helpers, wake_early=wake_early)
