"""Timed work of the alerts app: auto-resolving incidents that received no events for a while,
and opening an incident for heartbeats that stopped pinging."""

from django.db import transaction

from ilert import clock

from . import services
from .models import AlertSource, Incident, Integration


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


def _overdue(queryset, now):
    return queryset.filter(
        integration_type=Integration.HEARTBEAT, status=AlertSource.Status.ACTIVE,
        heartbeat_overdue=False, next_expected_at__lte=now,
    )


def heartbeats_overdue(now=None, batch=200):
    """Open an incident for every active heartbeat source whose next_expected_at has passed.

    Each source is claimed in its own short transaction with select_for_update(skip_locked=True)
    and re-checked under the lock (a ping that landed meanwhile moved its deadline), then marked
    overdue in the same transaction that ingests the incident, so two sweepers never open two
    incidents and a crash in between leaves the source due for the next sweep."""
    from .integrations.heartbeat import overdue_event

    now = now or clock.now()
    done = 0
    candidates = list(_overdue(AlertSource.objects.all(), now).order_by("next_expected_at")
                      .values_list("pk", flat=True)[:batch])
    for pk in candidates:
        with transaction.atomic():
            source = _overdue(AlertSource.objects.select_for_update(skip_locked=True), now).filter(pk=pk).first()
            if source is None:  # pinged, disabled or claimed by another sweeper meanwhile
                continue
            AlertSource.objects.filter(pk=source.pk).update(heartbeat_overdue=True)
            services.ingest(source, overdue_event(source), now=now)
            done += 1
    return done
