import os
import sys
import threading

from celery import Celery, bootsteps
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_ready
from django.db import close_old_connections

from ilert import delivery, gc_tuning, kombu_patches
from ilert.threads import Keepers

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


# A task thread keeps its database connection from one task to the next (a connection per task
# forked a PostgreSQL process per task); settings.DB_KEEP_THREAD_CONNECTIONS caps how many of a
# process's task threads do (made on first use: the settings are not loaded when this module is).
_keepers = None
_keepers_made = threading.Lock()


@task_prerun.connect
def _look_at_database_connection(task=None, **kwargs):
    """Before a task, as Django before a request: a connection too old or unusable is closed."""
    if task is None or not getattr(task.request, "is_eager", False):
        close_old_connections()


@task_postrun.connect
def _keep_or_close_database_connection(task=None, **kwargs):
    """After a task: kept for the next one (settings.CELERY_DB_REUSE_MAX stops Celery's Django fixup
    from closing it), unless more threads than settings.DB_KEEP_THREAD_CONNECTIONS would keep one. An
    eager task runs inside its caller (a test's transaction): its connection is not the task's."""
    global _keepers  # noqa: PLW0603 - one per process, made on first use
    if task is None or not getattr(task.request, "is_eager", False):
        with _keepers_made:
            if _keepers is None:
                from django.conf import settings

                _keepers = Keepers(settings.DB_KEEP_THREAD_CONNECTIONS or sys.maxsize)
        _keepers.after_job()


@worker_ready.connect
def _say_what_cannot_be_delivered(**kwargs):
    delivery.log_at_startup()
