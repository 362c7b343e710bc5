"""How a claim ends: sent, released for another try, failed (or parked / uncertain, with the user's
next step moved to now). Shared by delivery, reconciling and provider status reports."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from alerts.models import LogKind
from ilert import bulk, clock

from .. import attempts
from ..models import DeliveryAttempt, Notification
from ..services import outbox
from . import timeline

S = Notification.Status
R = DeliveryAttempt.Result

BACKOFF_SECONDS = (10, 30, 90, 300, 900)
UNKNOWN_RECHECK_SECONDS = 15  # after a timeout, ask the provider this much later
# A request whose answer we never got may still be queued at the provider and create its message
# late: "not there" is trusted only once the request is this old (before that, ask again).
UNKNOWN_SETTLE_SECONDS = 60
POISON_LIMIT = 3
MAX_LOOKUPS = 5


@dataclass
class Claim:
    leader: Notification
    followers: list
    lease: int
    rendered: object = None  # the message, when the claim rendered it (claims._render)


def backoff(attempt):
    return timedelta(seconds=BACKOFF_SECONDS[min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1])


def deadline():
    return timedelta(seconds=settings.NOTIFICATION_SEND_DEADLINE_SECONDS)



def with_bundle(row):
    """A leader and the rows bundled into its message that are still sending."""
    return [row] + list(Notification.objects.filter(bundle=row, status=S.SENDING).select_related("incident", "user"))



def record_sent(claim, sent, call=None, *, now=None, found=""):
    """Record a message the provider took: `call` the send that took it, or `found` (why a lookup
    was needed) when the sweeper found it at the provider."""
    now = now or clock.now()
    leader = claim.leader
    with transaction.atomic():
        attempts.finish(call, R.SENT, provider=sent.provider, provider_id=sent.provider_id, now=now)
        if not Notification.objects.filter(pk=leader.pk, status=S.SENDING, lease=claim.lease).update(
                status=S.SENT, sent_at=now, provider=sent.provider, provider_id=sent.provider_id[:255],
                provider_account=sent.account[:64], deadline=None, error="", outcome_unknown=False):
            current = Notification.objects.filter(pk=leader.pk).values_list("provider_id", flat=True).first()
            if call is not None and current != sent.provider_id:
                # Our call went out, but the row was no longer ours: never silent. (The same provider
                # id: a status callback that came first recorded this very message.)
                timeline.log_call(claim, f"{{target}}: {timeline.provider(sent.provider)} took a message "
                                         f"{timeline.clock_time(leader, now)} ({sent.provider_id}) after the send's "
                                         "deadline, when the row had already been taken over; it may have arrived "
                                         "twice", kind=LogKind.WARNING)
            return False
        rows = [leader]
        if claim.followers:  # a claim carries every page bundled into its message (none: nothing to read)
            Notification.objects.filter(bundle=leader, status=S.SENDING).update(
                status=S.SENT, sent_at=now, provider=sent.provider, provider_id=sent.provider_id[:255],
                provider_account=sent.account[:64], deadline=None, error="")
            rows += list(Notification.objects.filter(bundle=leader).select_related("incident", "user"))
        numbers = [f"#{row.incident.number}" for row in rows if row.incident_id]
        for row in rows:
            row.status = S.SENT
            timeline.log(row, _sent_line(row, leader, now, numbers if len(rows) > 1 else [], found),
                         data={"provider_id": sent.provider_id})
    return True


def _sent_line(row, leader, now, numbers=(), found=""):
    """ "SMS to Rita Responder (+49…5678) sent 14:02:05 CET (try 2) (one message for #1, #2)" """
    tries = f" (try {leader.attempts})" if leader.attempts > 1 and not found else ""
    extra = f" (one message for {', '.join(numbers)})" if numbers else ""
    return f"{timeline.target(row)} sent {timeline.clock_time(row, now)}{tries}{extra}{found}"


@dataclass
class Done:
    """A message the provider took, still to be recorded (record_sent_many)."""

    claim: Claim
    sent: object  # channels.Sent
    call: object  # attempts.Call
    now: object


_SENT_FIELDS = ["status", "sent_at", "provider", "provider_id", "provider_account", "deadline", "error",
                "outcome_unknown"]


def record_sent_many(done):
    """record_sent for many messages at once: their calls, rows and timeline lines in one statement
    each. Each leader is written only under its claim's lease, with the pages bundled into its
    message (all locked first: a delivery report or a take-over waits on the leader's lock). A
    message whose row is no longer ours goes through record_sent on its own (which warns)."""
    ours = set()
    if len(done) > 1:  # one alone takes fewer statements through record_sent
        with transaction.atomic():
            attempts.finish_many([(i.call, R.SENT, i.sent.provider, i.sent.provider_id, i.now) for i in done])
            ours, carried = _lock_ours(done)
            written, lines = [], []
            for item in done:
                if item.claim.leader.pk not in ours:
                    continue
                rows = [item.claim.leader] + sorted((row for row in item.claim.followers if row.pk in carried),
                                                    key=lambda row: (row.created_at, row.pk), reverse=True)
                numbers = [f"#{row.incident.number}" for row in rows if row.incident_id] if len(rows) > 1 else []
                for row in rows:
                    _mark_sent(row, item.sent, item.now)
                    lines.append((row, _sent_line(row, item.claim.leader, item.now, numbers),
                                  {"provider_id": item.sent.provider_id}))
                written += rows
            bulk.update(Notification, written, _SENT_FIELDS)
            timeline.log_many(lines)
    for item in done:
        if item.claim.leader.pk not in ours:
            record_sent(item.claim, item.sent, item.call, now=item.now)


def _lock_ours(done):
    """({leaders still `sending` under their claims' leases}, {pages still bundled into them}),
    locked, in one query."""
    leases = {item.claim.leader.pk: item.claim.lease for item in done}
    locked = (Notification.objects.select_for_update().filter(Q(pk__in=leases) | Q(bundle_id__in=leases),
                                                              status=S.SENDING)
              .order_by("pk").values_list("pk", "bundle_id", "lease"))
    rows = list(locked)
    ours = {pk for pk, bundle_id, lease in rows if bundle_id is None and leases.get(pk) == lease}
    return ours, {pk for pk, bundle_id, _lease in rows if bundle_id in ours}


def _mark_sent(row, sent, now):
    row.status, row.sent_at, row.deadline, row.error, row.outcome_unknown = S.SENT, now, None, "", False
    row.provider, row.provider_id, row.provider_account = sent.provider, sent.provider_id[:255], sent.account[:64]


def release(claim, *, due_at, error, crashed=False):
    """Back to pending for another try (the leader and its bundle). False: the row is not ours."""
    leader = claim.leader
    updates = {"status": S.PENDING, "due_at": due_at, "deadline": None, "error": error[:2000], "bundle": None,
               "outcome_unknown": False}
    if crashed:
        updates["crashes"] = F("crashes") + 1
    with transaction.atomic():
        if not Notification.objects.filter(pk=leader.pk, status=S.SENDING, lease=claim.lease).update(**updates):
            return False
        updates.pop("crashes", None)
        Notification.objects.filter(bundle=leader, status=S.SENDING).update(**updates)
    return True



def fail_rows(rows, message, now, *, lease, status=S.FAILED, error=None):
    """Fail (or park / mark uncertain) rows and move each user's next step to now."""
    leader = rows[0]
    guard = {"lease": lease, "status": S.SENDING} if lease is not None else {"status__in": (S.PENDING, S.SENDING)}
    unknown = status == S.UNCERTAIN
    if not Notification.objects.filter(pk=leader.pk, **guard).update(
            status=status, deadline=None, error=(error or message)[:2000], outcome_unknown=unknown):
        return
    others = [row.pk for row in rows[1:]]
    if others:
        Notification.objects.filter(pk__in=others, status__in=(S.PENDING, S.SENDING)).update(
            status=status, deadline=None, error=(error or message)[:2000], outcome_unknown=unknown)
    for row in rows:
        row.status = status
        following = fallback(row, now)
        suffix = f" Next: {timeline.target(following).split(' (')[0].lower()} now." if following else (
            " No further steps." if row.kind == Notification.Kind.PAGE else "")
        timeline.log(row, message + "." + suffix if not message.endswith(".") else message + suffix,
             kind=LogKind.WARNING)


def fallback(row, now=None):
    """After a failed step, the user's next pending step for the same incident and round goes now."""
    if row.kind != Notification.Kind.PAGE or row.incident_id is None:
        return None
    now = now or clock.now()
    following = (
        Notification.objects.filter(
            incident_id=row.incident_id, user_id=row.user_id, round_tag=row.round_tag,
            kind=Notification.Kind.PAGE, status=S.PENDING, due_at__gt=now,
        ).select_related("user").order_by("due_at", "id").first()
    )
    if following is None:
        return None
    Notification.objects.filter(pk=following.pk, status=S.PENDING).update(due_at=now)
    outbox.kick([following.pk])
    return following

