import os

from celery import Celery, bootsteps
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_ready

from ilert import delivery, gc_tuning, kombu_patches

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
kombu_patches.apply()  # a Redis restart must not kill a worker (see the module)

app = Celery("ilert")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class Ticker(bootsteps.StartStopStep):
    """Every worker ticks the periodic tasks of the queues it consumes (ilert/ticker.py): no beat, no
    single process whose loss stops the sweepers. Started before the consumer connects, so a worker
    sweeps even while the broker is away."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.ticker = None

    def start(self, worker):
        # the ticker reads Django's models; this app is made before Django loads them (ilert/__init__.py)
        from ilert.ticker import Ticker, schedule_for

        queues = set(worker.app.amqp.queues.consume_from)
        self.ticker = Ticker(schedule_for(queues), identity=f"{worker.hostname}:{os.getpid()}").start()

    def stop(self, worker):
        if self.ticker is not None:
            self.ticker.stop()


app.steps["worker"].add(Ticker)

@worker_ready.connect  # the worker's own process (the threads pool runs tasks here), all tasks loaded
@worker_process_init.connect  # each child of a prefork pool
def _tune_garbage_collection(**kwargs):
    gc_tuning.freeze_what_start_up_loaded()


@task_prerun.connect
@task_postrun.connect
def _look_at_database_connections(task=None, **kwargs):
    """A task's thread keeps its connection to the next task (settings.CELERY_DB_REUSE_MAX), closed as
    Django closes a request's: when older than CONN_MAX_AGE, unusable, or left broken. An eager task
    runs inside its caller (a test's transaction): its connection is not the task's to close."""
    from django.db import close_old_connections

    if task is None or not getattr(task.request, "is_eager", False):
        close_old_connections()


@worker_ready.connect
def _say_what_cannot_be_delivered(**kwargs):
    delivery.log_at_startup()
