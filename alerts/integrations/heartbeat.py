"""Heartbeats: GET | HEAD | POST /api/heartbeats/<key> (and /api/v1/heartbeats/<key>) → 202.

A heartbeat alert source expects a ping every `heartbeat_interval_seconds`; when none came for
interval + `heartbeat_grace_seconds` after the last one, the sweeper (alerts.engine.
heartbeats_overdue, ticked by Celery beat) opens an incident (incident key "heartbeat"), and the
next ping resolves it (unless `heartbeat_resolve_on_ping` is off). The timer starts at the first
ping. Everything is a column of the alert source, so a restart of every process loses nothing.

A ping is one UPDATE of the source's row, which also counts it against the key's rate limit
(INGEST_RATE_LIMIT, a fixed window kept in the row: `ping_window_started_at`, `ping_window_count`),
so a ping needs no Redis round trip and the limit holds across processes (the row's lock orders
them). Only the ping that ends an overdue period, a ping over the limit (429) and pings with a bad
key take the slow path.
"""

import functools
import math
from datetime import timedelta

from django import forms
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, DurationField, ExpressionWrapper, F, Q, Value, When
from django.db.models.functions import Cast
from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ilert import clock, metrics, secrets
from ilert.dashboard import token_addressed
from ilert.db.prepared import Statement
from ilert.errors import DomainError

from .. import services
from ..ingest import EventType, InboundEvent, ResponseCode
from ..models import AlertSource
from . import base
from .settings_form import SettingsForm
from .spec import InboundIntegration

NAME = "heartbeat"
INCIDENT_KEY = "heartbeat"


def _deadline(now):
    """now + interval + grace, computed by the database from the row's own columns."""
    seconds = F("heartbeat_interval_seconds") + F("heartbeat_grace_seconds")
    if connection.vendor == "postgresql":
        duration = seconds * Value(timedelta(seconds=1))
    else:  # SQLite keeps durations as integer microseconds
        duration = Cast(seconds * 1_000_000, DurationField())
    return ExpressionWrapper(Value(now) + duration, output_field=DateTimeField())


def _heartbeat_sources():
    return AlertSource.objects.filter(integration_type=NAME, status=AlertSource.Status.ACTIVE)


@functools.lru_cache(maxsize=8)
def _limit(text):
    item = base.parse_limit(text)
    return item.amount, timedelta(seconds=item.get_expiry())


def _counted(now, window_opened_after):
    """The UPDATE's columns that count one ping in the window (a new window when the last one is over)."""
    in_window = Q(ping_window_started_at__gt=window_opened_after)
    return {"ping_window_started_at": Case(When(in_window, then=F("ping_window_started_at")), default=Value(now)),
            "ping_window_count": Case(When(in_window, then=F("ping_window_count") + 1), default=Value(1))}


def _orm_ping(key_hash, now, amount, window):
    """The ping's UPDATE through the ORM (any database); answers the rows updated (0 or 1)."""
    within_limit = (Q(ping_window_started_at__isnull=True) | Q(ping_window_started_at__lte=now - window)
                    | Q(ping_window_count__lt=amount))
    return _heartbeat_sources().filter(within_limit, key_hash=key_hash, heartbeat_overdue=False).update(
        last_ping_at=now, next_expected_at=_deadline(now), **_counted(now, now - window)
    )


# The same UPDATE written out for PostgreSQL: building it through the ORM (expressions resolved and
# compiled on every ping) cost about a fifth of a ping's time in bench/heartbeat. Prepared once per
# connection (ilert/db/prepared.py).
PING = Statement("ilert_ping", """
UPDATE alerts_alertsource SET
    last_ping_at = %(now)s::timestamptz,
    next_expected_at = %(now)s + (heartbeat_interval_seconds + heartbeat_grace_seconds) * interval '1 second',
    ping_window_started_at = CASE WHEN ping_window_started_at > %(opened)s::timestamptz THEN ping_window_started_at
                                  ELSE %(now)s END,
    ping_window_count = CASE WHEN ping_window_started_at > %(opened)s THEN ping_window_count + 1 ELSE 1 END
WHERE key_hash = %(key_hash)s AND integration_type = %(type)s AND status = %(status)s
    AND NOT heartbeat_overdue
    AND (ping_window_started_at IS NULL OR ping_window_started_at <= %(opened)s OR ping_window_count < %(amount)s)
""")


def _sql_ping(key_hash, now, amount, window):
    with connection.cursor() as cursor:
        PING.execute(cursor, {"now": now, "opened": now - window, "key_hash": key_hash, "amount": amount,
                                  "type": NAME, "status": AlertSource.Status.ACTIVE})
        return cursor.rowcount


def ping(key, *, now=None):
    """Record a ping. Returns the response code: EVENT_APPENDED for a plain ping,
    INCIDENT_RESOLVED when it ended an overdue period and resolved its incident."""
    if not isinstance(key, str) or not key or len(key) > 200:
        raise base.Reject(404, "Unknown integration key.")
    key_hash = secrets.lookup_hash(key)
    now = now or clock.now()
    amount, window = _limit(settings.INGEST_RATE_LIMIT)
    update = _sql_ping if connection.vendor == "postgresql" else _orm_ping
    if update(key_hash, now, amount, window):
        return ResponseCode.EVENT_APPENDED
    return _slow_ping(key_hash, now, amount, window)


def _refuse_over_limit(source, now, amount, window):
    """429 when this ping would be one too many in the row's window (the row is locked)."""
    started = source.ping_window_started_at
    if started is None or started <= now - window or source.ping_window_count < amount:
        return
    wait = metrics.rate_limited(("ingest",), max(1, math.ceil((started + window - now).total_seconds())))
    raise base.Reject(429, f"Too many pings for this integration key; retry in {wait} s.",
                      headers={"Retry-After": str(wait)})


def _slow_ping(key_hash, now, amount, window):
    source = AlertSource.objects.filter(key_hash=key_hash).first()
    if source is None:
        raise base.Reject(404, "Unknown integration key.")
    if source.integration_type != NAME:
        raise base.Reject(404, f"This integration key belongs to a {source.get_integration_type_display()} alert "
                               "source, not a heartbeat.")
    if not source.is_active:
        raise base.Reject(403, f"The alert source {source.name!r} is disabled.", code="source_disabled")
    with transaction.atomic():
        source = AlertSource.objects.select_for_update().get(pk=source.pk)
        _refuse_over_limit(source, now, amount, window)
        was_overdue = source.heartbeat_overdue
        AlertSource.objects.filter(pk=source.pk).update(
            last_ping_at=now, next_expected_at=_deadline(now), heartbeat_overdue=False,
            **_counted(now, now - window)
        )
        if was_overdue and source.heartbeat_resolve_on_ping:
            try:
                result = services.ingest(source, InboundEvent(
                    event_type=EventType.RESOLVE, incident_key=INCIDENT_KEY, via="heartbeat",
                    details="A ping arrived: the heartbeat is back.",
                ), now=now)
            except DomainError as exc:
                raise base.reject_domain_error(exc) from None
            return result.code
    return ResponseCode.EVENT_APPENDED


def overdue_event(source):
    interval, grace = source.heartbeat_interval_seconds, source.heartbeat_grace_seconds
    last = source.last_ping_at.strftime("%Y-%m-%d %H:%M:%S UTC") if source.last_ping_at else "never"
    return InboundEvent(
        event_type=EventType.ALERT,
        summary=f"Heartbeat missed: {source.name}",
        details=f"No ping since {last}. A ping is expected every {human_seconds(interval)} "
                f"(grace {human_seconds(grace)}).",
        incident_key=INCIDENT_KEY,
        custom_details={"last_ping_at": source.last_ping_at.isoformat() if source.last_ping_at else None,
                        "interval_seconds": interval, "grace_seconds": grace},
        via="heartbeat",
    )


def human_seconds(seconds):
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


@token_addressed
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def receive(request, key):
    try:
        code = ping(key)
    except base.Reject as reject:
        return reject.response()
    if request.method == "HEAD":
        return HttpResponse(status=202)
    return JsonResponse({"responseCode": code}, status=202)


class HeartbeatSettings(SettingsForm):
    COLUMNS = ("heartbeat_interval_seconds", "heartbeat_grace_seconds", "heartbeat_resolve_on_ping")

    heartbeat_interval_seconds = forms.IntegerField(min_value=5, max_value=31 * 86400, label="Interval (seconds)",
                                                    help_text="A ping is expected this often.")
    heartbeat_grace_seconds = forms.IntegerField(min_value=0, max_value=7 * 86400, label="Grace (seconds)",
                                                 help_text="Extra time before an incident opens.")
    heartbeat_resolve_on_ping = forms.BooleanField(required=False, label="The next ping resolves the incident")


def setup(links):
    return {"heartbeat_url": links.keyed("alerts:heartbeat")}


INTEGRATION = InboundIntegration(
    name=NAME, label="Heartbeat", setup_template="alerts/integrations/heartbeat.html", setup=setup, parse=ping,
    urls=[path("api/heartbeats/<str:key>", receive, name="heartbeat")], settings_form=HeartbeatSettings,
)
