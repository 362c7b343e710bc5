"""Publishing Celery tasks after commit.

A kicked task is only an early wake-up: the row it would act on is already durable and a sweeper
finds it anyway. So a broker that is down makes the system slower, never wrong.
"""

import logging

from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)


def after_commit(task, *args, options=None, **kwargs):
    """Enqueue `task` once the current transaction commits (at once outside a transaction).
    `options` go to apply_async (e.g. {"eta": due_time} for an early wake-up at a due time)."""
    if settings.ILERT_KICK_TASKS:
        transaction.on_commit(lambda: _publish(task, args, kwargs, options))


def now(task, *args, options=None, **kwargs):
    """Enqueue `task` at once, even inside a transaction: for tasks that need nothing this
    transaction writes (e.g. more sweepers for a backlog that is already committed)."""
    if settings.ILERT_KICK_TASKS:
        _publish(task, args, kwargs, options)


def _publish(task, args, kwargs, options):
    if settings.TASK_RUNNER == "local":  # the embedded default: no broker, this process runs it
        from ilert.localtasks import runner

        runner.submit(task, args, kwargs, options)
        return
    try:
        task.apply_async(args=args, kwargs=kwargs, **(options or {}))
    except (OperationalError, OSError):  # broker unreachable: the sweeper will pick the row up
        log.warning("could not publish %s; the sweeper will handle it", task.name)
