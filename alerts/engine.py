"""Timed work of the alerts app: auto-resolving incidents that received no events for a while."""

from django.db import transaction

from ilert import clock

from . import services
from .models import Incident


def auto_resolve_due(now=None, batch=200):
    """Resolve open incidents whose auto_resolve_at has passed. Claimed with skip-locked, and the
    claim re-checks the due time, so two sweepers never resolve the same incident twice."""
    now = now or clock.now()
    done = 0
    with transaction.atomic():
        due = list(
            Incident.objects.select_for_update(skip_locked=True)
            .filter(status__in=Incident.OPEN, auto_resolve_at__lte=now)
            .order_by("auto_resolve_at")[:batch]
        )
        for incident in due:
            services.resolve(incident, by=None, via="auto_resolve", now=now)
            done += 1
    return done
