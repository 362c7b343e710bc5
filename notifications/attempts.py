"""The record of provider calls (DeliveryAttempt): written before each call, completed after it.

One call (a send or a lookup) is one row for each notification it concerns: the leader of a bundled
message and the pages it carries.
"""

import os
import socket
from dataclasses import dataclass, field

from ilert import bulk, clock

from .models import DeliveryAttempt

A = DeliveryAttempt


def _worker():
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


@dataclass
class Call:
    kind: str
    ids: list = field(default_factory=list)  # the DeliveryAttempt rows of this call


def start(rows, kind, lease, now=None):
    """Record that a call for `rows` (leader first) starts now, under the leader's claim `lease`."""
    now = now or clock.now()
    worker = _worker()
    made = A.objects.bulk_create([
        A(tenant_id=row.tenant_id, notification_id=row.pk, kind=kind, lease=lease, started_at=now, worker=worker)
        for row in rows
    ])
    return Call(kind, [attempt.pk for attempt in made])


def finish(call, result, *, provider="", provider_id="", error="", now=None):
    if call is None or not call.ids:
        return
    A.objects.filter(pk__in=call.ids).update(
        result=result, finished_at=now or clock.now(), provider=provider[:16], provider_id=provider_id[:255],
        error=error[:2000])


def finish_many(calls):
    """finish() for many calls at once, each with its own outcome, in one UPDATE:
    [(call, result, provider, provider_id, now)]."""
    rows = [A(pk=pk, result=result, finished_at=now, provider=provider[:16], provider_id=provider_id[:255], error="")
            for call, result, provider, provider_id, now in calls if call is not None for pk in call.ids]
    if rows:
        bulk.update(A, rows, ["result", "finished_at", "provider", "provider_id", "error"])


def last_send(row):
    return A.objects.filter(notification_id=row.pk, kind=A.Kind.SEND).order_by("-started_at", "-id").first()
