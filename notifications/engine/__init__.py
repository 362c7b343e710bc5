"""Delivery of the notification outbox (docs/architecture.md §4). Plain functions: the Celery tasks, the
sweeper and the tests call them directly; "now" comes from ilert.clock.

dispatch(): claim due `pending` rows (select_for_update(skip_locked) + a compare-and-set UPDATE on
    status and lease), group pages to one address into one message (bundling) unless the contact
    method's throttle or bundle window holds them, mark them `sending` with a deadline, commit, then
    hand each message to a sender thread (senders.py): messages go side by side, never one behind
    another's timeout. Right before its provider call, each message takes its row again in one
    compare-and-set (still `sending`, same lease, deadline not passed) that moves the deadline to
    now + NOTIFICATION_SEND_DEADLINE_SECONDS and records the attempt; a message that lost its row
    (it waited past its deadline and the sweeper took it back) is not sent. The outcome is recorded
    only if the row still holds the same lease.

reconcile(): rows still `sending` after their deadline. One whose claim never started a provider
    call (`outcome_unknown` is set by the compare-and-set and cleared with the outcome) is simply
    queued again. One that did — a worker that died mid-call, or a call whose outcome is unknown (a
    read timeout) — is never re-sent blindly: the
    channel is asked whether the provider took the message (Twilio: list recent messages/calls to
    that number and match our text and time; dev outbox: the row is there):
      found      → sent, with the provider's id (no second send);
      not found  → pending again (sending is then safe);
      can't ask  → uncertain (push, email): not re-sent; the user's next step goes at once.

Every provider call is a DeliveryAttempt (attempts.py) and, for pages, a line on the incident's
timeline: sent, retried, timed out and checked, found, not found, failed over to the next step.
docs/notifications-delivery.md describes the design.

Failures: transient errors retry with backoff (10 s, 30 s, 90 s …) up to NOTIFICATION_MAX_ATTEMPTS;
permanent errors and the last try fail the row and move the user's next step to now. A row whose
handler keeps crashing is parked with the error (a poison pill does not stall the engine).

The package, by step: claims.py (claiming), delivery.py (sending one message), outcomes.py (sent,
released, failed; the user's next step), recorder.py (what the providers took, written together),
reconcile.py (rows past their deadline), status.py (provider delivery reports), timeline.py (what
the incident's timeline says).
"""

import logging

from django.core.cache import cache
from django.db.models import Count, Min

from ilert import clock

from .. import reminders, senders
from ..models import Notification
from . import claims as claiming
from . import delivery
from . import reconcile as reconciling
from . import recorder as recording
from .outcomes import fallback  # noqa: F401  (a public door: the user's next step after a failure)
from .status import record_status  # noqa: F401  (a public door: webhooks.twilio_status)

log = logging.getLogger(__name__)
S = Notification.Status


def dispatch(ids=None, now=None, batch=50, wait=True):
    """Claim due notifications (all, or just `ids`) and send them, side by side on the sender
    threads. Returns how many messages were claimed. `wait=False` (a Celery worker) returns once
    they are handed over: a worker thread is never held by a provider call.

    No more rows are claimed than the sender threads can start now; the rest stays pending for a
    worker process with free threads (the sweep picks it up)."""
    now = now or clock.now()
    if delivery.inline():
        claims = claiming.claim(now, ids, batch)
        done = []  # one after another on this thread: what the providers took is recorded at the end
        for claim in claims:
            delivery.deliver(claim, done)
        recording.write(done)
        return len(claims)
    batch = min(batch, senders.pool.free())
    if not batch:
        return 0  # every sender thread is busy: the rows stay pending for a process with free threads
    claims = claiming.claim(now, ids, batch)
    futures = [senders.pool.submit(delivery.deliver, claim) for claim in claims]
    if wait:
        senders.pool.wait(futures)
    return len(claims)


def reconcile(now=None, batch=50, wait=True):
    """Settle rows still `sending` after their deadline without ever sending twice."""
    now = now or clock.now()
    inline = delivery.inline()
    room = batch if inline else senders.pool.free()  # lookups are provider calls too
    claims, queued = reconciling.take_back(now, batch, room)
    if inline:
        for claim in claims:
            reconciling.settle(claim)
    else:
        futures = [senders.pool.submit(reconciling.settle, claim) for claim in claims]
        if wait:
            senders.pool.wait(futures)
    return len(claims) + queued


def tick(now=None, wait=True):
    """One sweep: settle stuck sends, send everything due, and (once a minute) shift reminders.
    `wait=False` (a Celery worker) hands the provider calls to the sender threads and returns."""
    now = now or clock.now()
    done = reconcile(now, wait=wait)
    while True:  # a failure may move a next step to "now": keep going until nothing is due
        sent = dispatch(now=max(now, clock.now()), wait=wait)
        done += sent
        if sent == 0:
            break
    if cache.add("notifications:reminders-tick", 1, timeout=55):
        try:
            done += reminders.send_shift_reminders(now)
        except Exception:  # reminders must never stop pages
            log.exception("shift reminders failed")
    return done



# --- read at scrape time (ilert/exposition.py) ----------------------------------------------------


def outbox_depth(now):
    """[(state, channel, rows, oldest due)] of the open outbox: pending and sending rows only, each
    state read through its partial index (notification_due, notification_deadline)."""
    return [(state, channel, rows, oldest)
            for state in (S.PENDING, S.SENDING)
            for channel, rows, oldest in Notification.objects.filter(status=state).order_by().values("channel")
            .annotate(rows=Count("id"), oldest=Min("due_at")).values_list("channel", "rows", "oldest")]
