"""Celery entry points (thin): the sweeper beat ticks, the "check now" kick and housekeeping."""

from celery import shared_task
from django.conf import settings

from . import engine


@shared_task(name="uptime.tasks.sweep")
def sweep():
    """Check due monitors for one sweep interval (beat sends one every SWEEP_INTERVAL_SECONDS)."""
    return engine.run(budget=settings.UPTIME_SWEEP_SECONDS)


@shared_task(name="uptime.tasks.check_monitor")
def check_monitor(monitor_id):
    """An early wake-up for one monitor made due now; a no-op when someone already checked it."""
    return engine.check_one(monitor_id)


@shared_task(name="uptime.tasks.maintain")
def maintain():
    """Roll up closed hours and days, prune what is beyond the retention windows."""
    return engine.maintain()
