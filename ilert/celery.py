import os

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


# At most this many of a worker process's task threads keep their database connection from one
# task to the next (ilert/threads.py): a connection per task cost a forked PostgreSQL process per
# task, and every thread keeping one cost four worker processes more connection slots than
# PostgreSQL's default 100 (bench/scaleout).
TASK_THREADS_KEEPING_CONNECTIONS = 4
_keepers = Keepers(TASK_THREADS_KEEPING_CONNECTIONS)


@task_prerun.connect
def _look_at_database_connection(task=None, **kwargs):
    """Before a task, as Django before a request: a connection too old or unusable is closed."""
    if task is None or not getattr(task.request, "is_eager", False):
        close_old_connections()


@task_postrun.connect
def _keep_or_close_database_connection(task=None, **kwargs):
    """After a task: kept for the next one (settings.CELERY_DB_REUSE_MAX stops Celery's Django fixup
    from closing it), unless more threads than TASK_THREADS_KEEPING_CONNECTIONS would keep one. An
    eager task runs inside its caller (a test's transaction): its connection is not the task's."""
    if task is None or not getattr(task.request, "is_eager", False):
        _keepers.after_job()


@worker_ready.connect
def _say_what_cannot_be_delivered(**kwargs):
    delivery.log_at_startup()
