from celery import shared_task

from . import engine


@shared_task(name="escalation.tasks.step", ignore_result=True)
def step(incident_id, expected_level, expected_round):
    """A kick for one incident that is due: it goes with whatever else is due now, in batches (the
    sweeper's tick). Under a storm of new incidents a step per kick planned, paged and committed each
    incident on its own (~30 statements each against ~5 in a batch of twenty); a kick whose incident
    another worker holds or already stepped finds it not due, as before."""
    return engine.tick()


# A storm (a full batch due at once) brings this many more sweeps onto idle worker threads.
STORM_HELPERS = 4


@shared_task(name="escalation.tasks.sweep", ignore_result=True)
def sweep(helpers=STORM_HELPERS, wake_early=True):
    return engine.tick(helpers=helpers, wake_early=wake_early)
