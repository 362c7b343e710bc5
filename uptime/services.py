"""Every change to uptime monitors. The engine records each check through `record_checks`, which
opens an incident (through alerts.services.ingest, with one incident key per monitor) when a
monitor goes down and resolves it, with the downtime on its timeline, when it comes back."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from alerts import services as alert_services
from alerts.ingest import EventType, InboundEvent
from alerts.integrations import uptime as uptime_integration
from alerts.models import LogKind
from ilert import bulk, clock, kick, metrics, secrets
from ilert.errors import DomainError

from . import validation
from .checks import DOWN, UNAVAILABLE, UP
from .models import CheckResult, CheckType, MonitorStatus, UptimeMonitor

_UNSET = object()

EDITABLE = {
    "name", "check_type", "target", "port", "interval_seconds", "timeout_seconds", "retries", "paused",
    "http_method", "http_headers", "http_body", "expected_status", "follow_redirects", "keyword", "keyword_mode",
    "max_response_ms", "verify_tls", "tls_expiry_days", "dns_record_type", "dns_expected", "dns_server",
}
# Changing one of these makes in-flight results meaningless and the monitor due at once.
CHECK_DEFINING = EDITABLE - {"name", "paused", "retries"}


def _floor_hour(at):
    return at.replace(minute=0, second=0, microsecond=0)


def _floor_day(at):
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _check_source(tenant, source):
    if source is not None and source.tenant_id != tenant.pk:
        raise DomainError("Unknown alert source.", field="alert_source")


# --- monitors ----------------------------------------------------------------------------------


def defaults():
    model = {f.name: f.get_default() for f in UptimeMonitor._meta.fields if f.name in EDITABLE}
    model["port"] = None
    return model


def create_monitor(tenant, *, name, check_type, target, alert_source=None, escalation_policy=_UNSET, **fields):
    """A new monitor, due at once. Without `alert_source` it gets its own ("Uptime: <name>", of the
    uptime integration type) with `escalation_policy`; with one, the policy is set on that source."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise DomainError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    values = validation.clean({**defaults(), **fields, "name": name, "check_type": check_type, "target": target})
    validation.guard(values)
    _check_source(tenant, alert_source)
    now = clock.now()
    with transaction.atomic():
        if alert_source is None:
            policy = None if escalation_policy is _UNSET else escalation_policy
            alert_source = alert_services.create_alert_source(
                tenant, name=f"Uptime: {values['name']}"[:120], integration_type=uptime_integration.NAME,
                escalation_policy=policy,
            )
        elif escalation_policy is not _UNSET:
            alert_services.update_alert_source(alert_source, escalation_policy=escalation_policy)
        monitor = UptimeMonitor.objects.create(
            tenant=tenant, alert_source=alert_source, next_check_at=now, rolled_until=_floor_hour(now),
            daily_rolled_until=_floor_day(now), created_at=now, **values,
        )
        if not monitor.paused:
            _kick(monitor)
    return monitor


# Editable values kept in another column (encrypted).
STORED_AS = {"http_headers": "http_headers_encrypted"}


def _unmasked(headers, stored):
    """Header values are shown masked: a masked value sent back keeps the stored one."""
    return {name: stored[name] if value == secrets.MASK and name in stored else value
            for name, value in headers.items()}


def _kept_headers(given, stored):
    """Names of stored headers an edit keeps without their values being entered again: all of them
    when the edit leaves the headers out, those sent back masked otherwise."""
    if not isinstance(given, dict):
        return sorted(stored)
    return sorted(name for name, value in given.items() if value == secrets.MASK and name in stored)


def _headers_for_new_target(values, given, stored):
    """Stored header values were entered for one target and are never shown again: a new target
    gets them only if they are entered again (an HTTP monitor's edit is refused), else they go."""
    kept = _kept_headers(given, stored)
    if not kept:
        return
    if values["check_type"] == CheckType.HTTP:
        raise DomainError(f"Enter the header values again: the target changed ({', '.join(kept)} would be sent to "
                          "the new target).", field="http_headers")
    values["http_headers"] = {name: value for name, value in values["http_headers"].items() if name not in kept}


def update_monitor(monitor, *, escalation_policy=_UNSET, **fields):
    unknown = set(fields) - EDITABLE - {"alert_source"}
    if unknown:
        raise DomainError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    source = fields.pop("alert_source", _UNSET)
    values, changed = _merged(monitor, fields)
    if changed & {"check_type", "target", "port", "dns_server"}:
        validation.guard(values)
    with transaction.atomic():
        _set_source(monitor, source, escalation_policy)
        for name in changed:
            setattr(monitor, name, values[name])
        update = ["alert_source", *(STORED_AS.get(name, name) for name in changed)]
        due_now = bool(changed & CHECK_DEFINING) or ("paused" in changed and not monitor.paused)
        if due_now:
            monitor.next_check_at = clock.now()
            update.append("next_check_at")
        monitor.save(update_fields=sorted(set(update)))
        if due_now or "paused" in changed:
            # A check of the old definition (or of a now paused monitor) still running is discarded:
            # its claim is no longer current. Counted in the database, not from this (maybe stale) copy.
            UptimeMonitor.objects.filter(pk=monitor.pk).update(claim_seq=F("claim_seq") + 1)
            monitor.refresh_from_db(fields=["claim_seq"])
        if due_now and not monitor.paused:
            _kick(monitor)
    return monitor


def _merged(monitor, fields):
    """The monitor's values with the edits, validated, and the names of those that change."""
    current = {name: getattr(monitor, name) for name in EDITABLE}
    given = fields.get("http_headers")
    if isinstance(given, dict):
        fields["http_headers"] = _unmasked(given, current["http_headers"])
    values = validation.clean({**current, **fields})
    if values["target"] != current["target"]:
        _headers_for_new_target(values, given, current["http_headers"])
    return values, {name for name in EDITABLE if values[name] != current[name]}


def _set_source(monitor, source, escalation_policy):
    if source is not _UNSET and source is not None:
        _check_source(monitor.tenant, source)
        monitor.alert_source = source
    if escalation_policy is not _UNSET:
        if monitor.alert_source is None:
            monitor.alert_source = _own_source(monitor)
        alert_services.update_alert_source(monitor.alert_source, escalation_policy=escalation_policy)


def pause(monitor):
    return update_monitor(monitor, paused=True)


def resume(monitor):
    return update_monitor(monitor, paused=False)


def delete_monitor(monitor):
    """Delete the monitor and its history. An incident it has open is resolved, saying why; the
    alert source and its incidents stay."""
    with transaction.atomic():
        incident = _open_incident(monitor)
        if incident is not None:
            alert_services.log(incident, LogKind.INFO, f"Uptime monitor {monitor.name} was deleted.", via="uptime")
            _send(monitor, EventType.RESOLVE)
        monitor.delete()


def check_now(monitor):
    """Make the monitor due now and wake a worker (the sweeper would find it within seconds)."""
    if monitor.paused:
        raise DomainError("The monitor is paused; resume it first.", code="paused")
    UptimeMonitor.objects.filter(pk=monitor.pk).update(next_check_at=clock.now())
    monitor.refresh_from_db(fields=["next_check_at"])
    _kick(monitor)
    return monitor


def _kick(monitor):
    from . import tasks  # here: tasks → engine → services would be a cycle at import time

    kick.after_commit(tasks.check_monitor, monitor.pk)


def _own_source(monitor):
    return alert_services.create_alert_source(
        monitor.tenant, name=f"Uptime: {monitor.name}"[:120], integration_type=uptime_integration.NAME
    )


# --- recording checks (the engine's door) ------------------------------------------------------


def _duration(delta):
    total = max(0, int(delta.total_seconds()))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{n} {unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0 s"


def _open_incident(monitor):
    if monitor.incident_id is None:
        return None
    incident = monitor.incident
    return incident if incident is not None and incident.is_open else None


def _monitor_url(monitor):
    return f"{settings.SITE_URL}{reverse('uptime:monitor', args=[monitor.pk])}"


def _send(monitor, event_type, summary="", details=""):
    """One event to the monitor's alert source; None when there is no source or it refuses."""
    source = monitor.alert_source
    if source is None:
        return None
    event = InboundEvent(
        event_type=event_type, summary=summary, details=details, incident_key=monitor.incident_key, via="uptime",
        links=[{"href": _monitor_url(monitor), "text": f"Uptime monitor {monitor.name}"}],
        custom_details={"monitor": monitor.pk, "check_type": monitor.check_type, "target": monitor.display_target},
    )
    try:
        return alert_services.ingest(source, event)
    except DomainError as exc:  # e.g. the alert source is disabled
        monitor.last_message = f"{monitor.last_message} (no incident: {exc.message})"[:500]
        return None


ON_TIME = timedelta(seconds=1)


def next_due(monitor, due_at, started_at, now):
    """The next check: one interval after the due time when this one started on time (keeps the
    cadence), else one interval after it actually started (a backlog, e.g. after an outage of the
    workers, spreads itself out instead of coming back as a herd every interval); sooner while a
    failure is being confirmed (retries); never in the past."""
    interval = timedelta(seconds=monitor.interval_seconds)
    if monitor.status != MonitorStatus.DOWN and monitor.consecutive_failures > 0:
        return now + min(interval, timedelta(seconds=settings.UPTIME_RETRY_SECONDS))
    on_time = due_at is not None and started_at - due_at <= ON_TIME
    following = (due_at if on_time else started_at) + interval
    return following if following > now else now + interval


@dataclass(frozen=True)
class Checked:
    """One finished check of one claim, as the engine hands it over."""

    monitor_id: int
    claim_seq: int
    result: object  # checks.Result
    started_at: object
    due_at: object = None


STATE_FIELDS = ["status", "consecutive_failures", "failing_since", "down_since", "last_checked_at",
                "last_response_ms", "last_message", "incident", "next_check_at"]


def record_checks(items, *, now=None):
    """Record finished checks in one transaction (the engine batches those that finish together):
    lock the monitors, drop stale claims, store the results, move each monitor's state (opening or
    resolving incidents through alerts.services.ingest). Returns the monitors (None for stale ones)."""
    now = now or clock.now()
    with transaction.atomic():
        locked = {
            m.pk: m for m in UptimeMonitor.objects.select_for_update(of=("self",))
            .select_related("alert_source", "incident").filter(pk__in=[i.monitor_id for i in items], paused=False)
            .order_by("pk")
        }
        out, rows, moved = [], [], []
        for item in items:
            monitor = locked.get(item.monitor_id)
            if monitor is None or monitor.claim_seq != item.claim_seq:
                out.append(None)
                continue
            rows.append(_apply(monitor, item, now))
            moved.append(monitor)
            out.append(monitor)
        CheckResult.objects.bulk_create(rows)
        if moved:
            bulk.update(UptimeMonitor, moved, STATE_FIELDS)
    metrics.uptime_checks(items, out)
    return out


def _apply(monitor, item, now):
    result, started_at = item.result, item.started_at
    lateness = None if item.due_at is None else round((started_at - item.due_at).total_seconds() * 1000)
    row = CheckResult(
        tenant_id=monitor.tenant_id, monitor=monitor, checked_at=started_at, outcome=result.outcome,
        response_ms=result.response_ms, status_code=result.status_code, message=result.message[:500],
        lateness_ms=lateness,
    )
    monitor.last_checked_at = started_at
    monitor.last_response_ms = result.response_ms
    monitor.last_message = result.message[:500]
    if result.outcome == UP:
        _went_up(monitor, result, now)
    elif result.outcome == DOWN:
        _failed(monitor, result, started_at)
    elif result.outcome == UNAVAILABLE and monitor.status != MonitorStatus.DOWN:
        monitor.status = MonitorStatus.UNAVAILABLE
    monitor.next_check_at = next_due(monitor, item.due_at, started_at, now)
    row.weight_seconds = max(1, round((monitor.next_check_at - started_at).total_seconds()))
    return row


def _went_up(monitor, result, now):
    if monitor.status == MonitorStatus.DOWN:
        incident = _open_incident(monitor)
        since = monitor.failing_since or monitor.down_since or now
        if incident is not None:
            alert_services.log(
                incident, LogKind.INFO,
                f"{monitor.name} is back up after {_duration(now - since)} of downtime "
                f"(failing since {since:%Y-%m-%d %H:%M:%S} UTC): {result.message}",
                via="uptime", data={"monitor": monitor.pk, "down_since": since.isoformat(),
                                    "up_at": now.isoformat(), "downtime_seconds": int((now - since).total_seconds())},
                at=now,
            )
        _send(monitor, EventType.RESOLVE)
        monitor.incident = None
    monitor.status = MonitorStatus.UP
    monitor.consecutive_failures = 0
    monitor.failing_since = monitor.down_since = None


def _failed(monitor, result, checked_at):
    monitor.consecutive_failures += 1
    if monitor.failing_since is None:
        monitor.failing_since = checked_at
    if monitor.status == MonitorStatus.DOWN:
        return  # still down: the open incident (if nobody resolved it by hand) already says so
    if monitor.consecutive_failures <= monitor.retries:
        if monitor.status == MonitorStatus.UNAVAILABLE:
            monitor.status = MonitorStatus.PENDING
        return
    count = monitor.consecutive_failures
    summary = f"{monitor.name} is down: {result.message}" + (f", {count} checks in a row" if count > 1 else "")
    details = (
        f"Uptime monitor: {monitor.name}\nCheck: {monitor.get_check_type_display()} {monitor.display_target}\n"
        f"Failing since: {monitor.failing_since:%Y-%m-%d %H:%M:%S} UTC ({count} failed checks in a row)\n"
        f"Last result: {result.message}\n{_monitor_url(monitor)}"
    )
    monitor.status = MonitorStatus.DOWN
    monitor.down_since = checked_at
    answer = _send(monitor, EventType.ALERT, summary, details)
    monitor.incident = answer.incident if answer is not None else None
