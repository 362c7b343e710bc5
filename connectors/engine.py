"""Delivery of connection invocations (docs/architecture.md §4), as plain functions tests call directly.

- claim: due `pending` rows are taken with select_for_update(skip_locked=True) and marked
  `sending` with a deadline, in a short transaction. Invocations of one connection and incident
  run one at a time and in order (an earlier unfinished one blocks later ones), so a Jira issue or
  a Slack message is created once and then updated, never raced.
- process: the target's HTTP calls happen outside any transaction or row lock.
- record: a compare-and-set on (status=sending, attempts) stores the outcome, so a worker that
  overran its deadline cannot overwrite a newer attempt.
- retries: 408/429/5xx, timeouts and connection errors retry with exponential backoff (30 s,
  doubling, at most 2 h between attempts, Retry-After honoured) for 24 hours from the first
  attempt (or from a manual retry); other 4xx and refused targets fail at once with the reason.
  A row still `sending` after its deadline (a worker died) counts as a failed attempt.
"""

import logging
from datetime import timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Count, Min, Q

from alerts import services as alert_services
from alerts.models import LogKind
from ilert import clock, metrics, netguard

from . import http, targets
from .models import ConnectionInvocation, ExternalRef

log = logging.getLogger(__name__)

Status = ConnectionInvocation.Status
SEND_DEADLINE = timedelta(minutes=2)
RETRY_WINDOW = timedelta(hours=24)
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=2)
MAX_CRASHES = 5


def backoff(attempts):
    return min(FIRST_DELAY * (2 ** max(0, attempts - 1)), MAX_DELAY)


def _blocked(invocation, now):
    return (
        ConnectionInvocation.objects.filter(connection_id=invocation.connection_id, incident_id=invocation.incident_id)
        .exclude(pk=invocation.pk)
        .filter(Q(pk__lt=invocation.pk, status__in=[Status.PENDING, Status.SENDING])
                | Q(status=Status.SENDING, deadline__gte=now))
        .exists()
    )


def _retry_fields(invocation, now, message, retry_after=None):
    delay = backoff(invocation.attempts)
    if retry_after:
        delay = max(delay, min(timedelta(seconds=retry_after), MAX_DELAY))
    if now + delay > invocation.window_started_at + RETRY_WINDOW:
        return {"status": Status.FAILED, "due_at": None, "finished_at": now,
                "error": f"Gave up after 24 hours of retries. Last error: {message}"}
    return {"status": Status.PENDING, "due_at": now + delay, "error": message}


def claim(now=None, *, ids=None, batch=50):
    """Mark due invocations `sending` and return them. Rows left `sending` past their deadline are
    put back as a failed attempt (retried with backoff, or given up after 24 hours)."""
    now = now or clock.now()
    claimed, expired = [], []
    with transaction.atomic():
        queryset = ConnectionInvocation.objects.select_for_update(skip_locked=True).filter(
            Q(status=Status.PENDING, due_at__lte=now) | Q(status=Status.SENDING, deadline__lt=now))
        if ids is not None:
            queryset = queryset.filter(pk__in=list(ids))
        busy = set()
        for invocation in queryset.order_by("due_at", "id")[:batch]:
            if invocation.status == Status.SENDING:
                fields = _retry_fields(invocation, now, "The attempt did not finish in time (worker stopped?).")
                fields["deadline"] = None
                ConnectionInvocation.objects.filter(pk=invocation.pk).update(**fields)
                expired.append((invocation, fields))
                continue
            pair = (invocation.connection_id, invocation.incident_id)
            if pair in busy or _blocked(invocation, now):
                continue
            busy.add(pair)
            invocation.status, invocation.deadline = Status.SENDING, now + SEND_DEADLINE
            invocation.attempts += 1
            invocation.last_attempt_at = now
            invocation.save(update_fields=["status", "deadline", "attempts", "last_attempt_at"])
            claimed.append(invocation)
        for invocation, fields in expired:
            if fields["status"] == Status.FAILED:
                _timeline(invocation, fields["error"], Status.FAILED, now)
    return claimed


def _remember(connection, incident_id, ref, url="", data=None):
    """Store what the target created, at once, in its own transaction."""
    try:
        with transaction.atomic():
            row, created = ExternalRef.objects.get_or_create(
                connection=connection, incident_id=incident_id,
                defaults={"tenant_id": connection.tenant_id, "ref": ref, "url": url, "data": data or {}},
            )
    except IntegrityError:
        row, created = ExternalRef.objects.get(connection=connection, incident_id=incident_id), False
    if not created and (row.ref, row.url) != (ref, url):
        row.ref, row.url, row.data = ref, url or row.url, data or row.data
        row.save(update_fields=["ref", "url", "data"])
    return row


def process(invocation, now=None):
    """Run one claimed invocation's action and record the outcome. Returns the new status."""
    connection = invocation.connection
    connector = connection.connector
    target = targets.get(connector.kind)
    redactor = http.Redactor()
    session = http.session(redactor=redactor)
    try:
        if not connection.enabled or not connector.enabled:
            raise targets.DeliveryError("The connection or its connector is disabled.")
        try:
            credentials = connector.credentials
        except ValueError as exc:
            raise targets.DeliveryError(f"The credentials cannot be read: {exc}") from None
        redactor.add(credentials)
        ctx = targets.Context(
            connector=connector, settings=connector.settings, credentials=credentials, http=session,
            params=connection.params, payload=invocation.payload, event=invocation.event,
            webhook_id=invocation.webhook_id, connection=connection, incident_id=invocation.incident_id,
            ref=ExternalRef.objects.filter(connection=connection, incident_id=invocation.incident_id).first(),
            remember=partial(_remember, connection, invocation.incident_id), attempt=invocation.attempts,
        )
        outcome = target.deliver(ctx)
        if ctx.ref is not None:
            outcome.ref = outcome.ref or ctx.ref.ref
            outcome.url = outcome.url or ctx.ref.url
    except targets.DeliveryError as exc:
        outcome = exc.outcome()
    except netguard.BlockedTarget as exc:
        outcome = targets.Outcome(False, f"Refused: {exc}")
    except Exception as exc:  # noqa: BLE001 - a poison pill is parked with its error, never stalls the engine
        where = _where(exc)
        log.error("connector invocation %s crashed: %s at %s", invocation.pk, type(exc).__name__, where)
        outcome = targets.Outcome(False, f"Crashed: {type(exc).__name__}: {exc}",
                                  retry=invocation.attempts < MAX_CRASHES)
    finally:
        session.close()
    outcome.message = redactor(outcome.message)[:2000]
    return record(invocation, outcome, {"exchanges": session.exchanges}, now or clock.now())


def _where(exc):
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"


def record(invocation, outcome, summary, now):
    fields = {"http_status": outcome.http_status, "summary": summary, "deadline": None, "message": outcome.message}
    if outcome.ok:
        fields.update(status=Status.SUCCEEDED, due_at=None, finished_at=now, error="",
                      external_ref=(outcome.ref or "")[:255], external_url=(outcome.url or "")[:500])
    elif outcome.retry:
        fields.update(_retry_fields(invocation, now, outcome.message, outcome.retry_after))
    else:
        fields.update(status=Status.FAILED, due_at=None, finished_at=now, error=outcome.message)
    with transaction.atomic():
        updated = ConnectionInvocation.objects.filter(
            pk=invocation.pk, status=Status.SENDING, attempts=invocation.attempts).update(**fields)
        if not updated:
            log.warning("connector invocation %s was taken over by another attempt; outcome dropped", invocation.pk)
            return None
        for key, value in fields.items():
            setattr(invocation, key, value)
        status = fields["status"]
        if status == Status.SUCCEEDED:
            _timeline(invocation, outcome.message, status, now)
        elif status == Status.FAILED:
            _timeline(invocation, fields["error"], status, now)
        elif invocation.attempts == 1:
            _timeline(invocation, f"{outcome.message} — retrying at {fields['due_at']:%H:%M:%S} UTC", status, now)
    log.info("connector invocation %s: %s after %s attempt(s)", invocation.pk, fields["status"], invocation.attempts)
    metrics.connector_delivery(invocation.connection.connector.kind, fields["status"])
    return fields["status"]


def _timeline(invocation, message, status, now):
    connection = invocation.connection
    connector = connection.connector
    verb = {"succeeded": "", "failed": "failed: ", "pending": "attempt failed: "}[status]
    text = f"{connector.get_kind_display()} · {connector.name}: {verb}{message}"
    alert_services.log(
        invocation.incident, LogKind.CONNECTOR, text[:2000],
        actor=invocation.requested_by if invocation.manual else None, via=connector.kind, at=now,
        data={"invocation": invocation.pk, "connection": connection.pk, "status": status, "event": invocation.event,
              "ref": invocation.external_ref, "url": invocation.external_url},
    )


def deliver(ids, now=None):
    """Deliver these invocations if they are due (the kicked task). Invocations that waited for
    an earlier one of the same incident and connection go as soon as it is done. Returns how
    many ran."""
    remaining, done = set(ids), 0
    while remaining:
        claimed = claim(now or clock.now(), ids=remaining)
        if not claimed:
            break
        for invocation in claimed:
            process(invocation, now or clock.now())
            remaining.discard(invocation.pk)
            done += 1
    return done


def deliver_due(now=None, batch=50):
    """The sweeper: deliver everything due that no kicked task handled."""
    now = now or clock.now()
    claimed = claim(now, batch=batch)
    for invocation in claimed:
        process(invocation, now)
    return len(claimed)


def outbox_depth(now):
    """[(state, target kind, rows, oldest due)] of the open invocations (ilert/exposition.py), each state
    read through its partial index (invocation_due, invocation_deadline)."""
    return [(state, kind, rows, oldest)
            for state in (Status.PENDING, Status.SENDING)
            for kind, rows, oldest in ConnectionInvocation.objects.filter(status=state).order_by()
            .values("connection__connector__kind").annotate(rows=Count("id"), oldest=Min("due_at"))
            .values_list("connection__connector__kind", "rows", "oldest")]
