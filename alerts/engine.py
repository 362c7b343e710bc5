"""Timed work of the alerts app: auto-resolving incidents that received no events for a while,
and opening an incident for heartbeats that stopped pinging."""

import logging
from datetime import timedelta

from django.db import transaction

from ilert import clock

from . import services
from .integrations import heartbeat
from .models import AlertSource, Incident, LogKind

log = logging.getLogger(__name__)

# One bad item (a subscriber that raises, a broken row) must not stall the sweep for everybody:
# it is retried after RETRY_AFTER_ERROR and, for auto-resolve, parked after MAX_ERRORS failures.
RETRY_AFTER_ERROR = timedelta(minutes=1)
MAX_ERRORS = 5


def auto_resolve_due(now=None, batch=200):
    """Resolve open incidents whose auto_resolve_at has passed. Claimed with skip-locked, and the
    claim re-checks the due time, so two sweepers never resolve the same incident twice. Each
    incident is resolved in its own savepoint: one that fails is retried a minute later (the error
    on its timeline) and parked (auto_resolve_at cleared) after MAX_ERRORS failures."""
    now = now or clock.now()
    done = 0
    with transaction.atomic():
        due = list(
            Incident.objects.select_for_update(skip_locked=True)
            .filter(status__in=Incident.OPEN, auto_resolve_at__lte=now)
            .order_by("auto_resolve_at")[:batch]
        )
        for incident in due:
            try:
                with transaction.atomic():
                    services.resolve(incident, by=None, via="auto_resolve", now=now)
            except Exception as exc:  # a poison pill must not stall the sweep  # noqa: BLE001
                _auto_resolve_failed(incident, exc, now)
            else:
                done += 1
    return done


def _auto_resolve_failed(incident, exc, now):
    log.exception("auto-resolve of incident %s (tenant %s) failed", incident.pk, incident.tenant_id)
    try:
        with transaction.atomic():
            errors = incident.log_entries.filter(kind=LogKind.WARNING, data__auto_resolve_error=True).count() + 1
            park = errors >= MAX_ERRORS
            retry_at = None if park else now + RETRY_AFTER_ERROR
            Incident.objects.filter(pk=incident.pk).update(auto_resolve_at=retry_at)
            incident.auto_resolve_at = retry_at
            what = "parked: it will not auto-resolve, resolve it by hand" if park else "retrying in a minute"
            services.log(incident, LogKind.WARNING,
                         f"Auto-resolve failed ({exc.__class__.__name__}: {str(exc)[:300]}); {what}.",
                         data={"auto_resolve_error": True}, at=now)
    except Exception:  # noqa: BLE001 - recording the failure failed too: the log line above stays
        log.exception("could not record the auto-resolve failure of incident %s", incident.pk)


def _overdue(queryset, now):
    return queryset.filter(
        integration_type=heartbeat.NAME, status=AlertSource.Status.ACTIVE,
        heartbeat_overdue=False, next_expected_at__lte=now,
    )


def heartbeats_overdue(now=None, batch=200):
    """Open an incident for every active heartbeat source whose next_expected_at has passed.

    Each source is claimed in its own short transaction with select_for_update(skip_locked=True)
    and re-checked under the lock (a ping that landed meanwhile moved its deadline), then marked
    overdue in the same transaction that ingests the incident, so two sweepers never open two
    incidents and a crash in between leaves the source due for the next sweep."""
    now = now or clock.now()
    done = 0
    candidates = list(_overdue(AlertSource.objects.all(), now).order_by("next_expected_at")
                      .values_list("pk", flat=True)[:batch])
    for pk in candidates:
        try:
            with transaction.atomic():
                source = _overdue(AlertSource.objects.select_for_update(skip_locked=True), now).filter(pk=pk).first()
                if source is None:  # pinged, disabled or claimed by another sweeper meanwhile
                    continue
                AlertSource.objects.filter(pk=source.pk).update(heartbeat_overdue=True)
                services.ingest(source, heartbeat.overdue_event(source), now=now)
        except Exception:  # a poison pill must not stall the others: try this one again later  # noqa: BLE001
            log.exception("opening the overdue-heartbeat incident of alert source %s failed; retrying in %s",
                          pk, RETRY_AFTER_ERROR)
            try:
                # Pushed only while still due (a ping meanwhile set its own deadline).
                _overdue(AlertSource.objects.filter(pk=pk), now).update(next_expected_at=now + RETRY_AFTER_ERROR)
            except Exception:  # noqa: BLE001
                log.exception("could not postpone alert source %s", pk)
        else:
            done += 1
    return done
