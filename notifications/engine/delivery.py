"""Sending one claimed message: render it (once, kept for retries), take the row again right before
the provider call, call the provider outside any transaction, and record what came of it."""

import logging
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from ilert import clock, metrics

from .. import attempts, channels, render
from ..channels import SendError
from ..models import DeliveryAttempt, Notification
from ..services import push_subscriptions
from . import timeline
from .outcomes import (
    POISON_LIMIT,
    UNKNOWN_RECHECK_SECONDS,
    Claim,
    Done,
    backoff,
    deadline,
    fail_rows,
    release,
    with_bundle,
)
from .recorder import recorder

log = logging.getLogger(__name__)
S = Notification.Status
R = DeliveryAttempt.Result


def inline():
    """Inside a transaction (a test, a shell) the claimed rows are invisible to other connections,
    so the messages are sent from this thread, one after another."""
    return transaction.get_connection().in_atomic_block



def render_once(claim, channel, items):
    """What the message says. Rendered once, at the first attempt (by the claim, or here when that
    failed), and kept on the leader and the pages bundled into it (`sent_text`, a page's `subject`):
    a retry sends exactly that text, even if the incident or its source changed in between, so a
    provider lookup recognises either attempt. Only what is not kept (an email's HTML part) is
    built again for a retry of an email or a push."""
    leader = claim.leader
    if claim.rendered is not None:
        return claim.rendered  # rendered by the claim, its text kept in the same transaction
    if not leader.sent_text:
        rendered = channel.render(leader, items)
        subject = leader.subject or rendered.subject[:500]
        Notification.objects.filter(pk=leader.pk, lease=claim.lease, sent_text="").update(
            sent_text=rendered.text, subject=subject)
        if claim.followers:
            Notification.objects.filter(pk__in=[row.pk for row in claim.followers], bundle=leader,
                                        sent_text="").update(sent_text=rendered.text, subject=subject)
        leader.sent_text, leader.subject = rendered.text, subject
        return rendered
    rendered = render.Rendered(subject=leader.subject, text=leader.sent_text)
    if channel.rerender:
        again = channel.render(leader, items)
        rendered.html, rendered.extra = again.html, again.extra
        if leader.kind != Notification.Kind.PAGE:
            rendered.subject = again.subject  # a notice's title: fixed ("ilert", or its own subject)
    return rendered


def deliver(claim, done=None):
    """Send one claimed message. What the provider took is recorded by the recorder (with the
    outcomes of the other sender threads that finish meanwhile), or, with `done` (a list), added
    to it for the caller to record with the rest of its batch."""
    leader = claim.leader
    items = [leader] + claim.followers
    channel = channels.get(leader.channel)
    call = None
    try:
        message = render_once(claim, channel, items)
        call = start_send(claim)
        if call is None:
            return  # the row is no longer ours: nothing was sent, the sweeper settles it
        taken = channel.send(leader, message, items)
    except SendError as exc:
        _send_failed(claim, exc, call)
    except Exception as exc:  # a bug or a poison pill: record it, never stall the engine
        log.exception("notification %s: handler crashed", leader.pk)
        _crashed(claim, exc, call)
    else:
        metrics.NOTIFICATIONS_SENT.labels(leader.channel, taken.provider or "unknown").inc()
        if done is None:
            recorder.add(claim, taken, call, clock.now())
        else:
            done.append(Done(claim, taken, call, clock.now()))


def start_send(claim):
    """Take the row again right before its provider call, in one compare-and-set: still `sending`
    under this claim's lease and before its deadline. The deadline then counts from now, the row is
    marked `outcome_unknown` (a call is out; cleared when its outcome is recorded) and the attempt
    is recorded. None: the row is no longer ours (the sweeper took it back after the deadline, or
    someone settled it) and nothing may be sent."""
    now = clock.now()
    leader = claim.leader
    with transaction.atomic():
        if not Notification.objects.filter(pk=leader.pk, status=S.SENDING, lease=claim.lease, deadline__gt=now).update(
                deadline=now + deadline(), attempts=F("attempts") + 1, outcome_unknown=True):
            log.info("notification %s: not sent, its claim %s ended before the call", leader.pk, claim.lease)
            return None
        leader.attempts += 1
        return attempts.start([leader] + claim.followers, DeliveryAttempt.Kind.SEND, claim.lease, now)



def _send_failed(claim, exc, call, now=None):
    now = now or clock.now()
    leader = claim.leader
    metrics.provider_error(leader.channel, exc)
    attempts.finish(call, R.TIMEOUT if exc.unknown else R.FAILED, error=exc.message, now=now)
    if exc.unknown:
        check = now + timedelta(seconds=UNKNOWN_RECHECK_SECONDS)
        if Notification.objects.filter(pk=leader.pk, status=S.SENDING, lease=claim.lease).update(
                outcome_unknown=True, deadline=check, error=exc.message[:2000]):
            timeline.log_call(claim, f"{{target}}: {exc.message}. Not sent again blindly: whether it arrived is "
                             f"checked at {timeline.clock_time(leader, check)}")
        return
    method = leader.contact_method
    if method is not None and exc.opt_out:
        type(method).objects.filter(pk=method.pk).update(opted_out=True)
    if method is not None and exc.disable:
        type(method).objects.filter(pk=method.pk).update(disabled_reason=exc.disable[:255])
    if exc.gone:
        push_subscriptions.webpush_subscription_gone(leader, exc.message, now=now)
    if exc.permanent or leader.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        with transaction.atomic():
            rows = with_bundle(leader)
            tries = "" if exc.permanent else f" after {leader.attempts} tries"
            fail_rows(rows, f"{timeline.target(leader)} failed{tries}: {exc.message}", now, lease=claim.lease)
        return
    retry = now + backoff(leader.attempts)
    if release(claim, due_at=retry, error=exc.message):
        timeline.log_call(claim, f"{{target}} failed (try {leader.attempts} of {settings.NOTIFICATION_MAX_ATTEMPTS}): "
                         f"{exc.message}. Next try at {timeline.clock_time(leader, retry)}")


def _crashed(claim, exc, call, now=None):
    now = now or clock.now()
    leader = claim.leader
    metrics.provider_error(leader.channel, crashed=True)
    maybe_sent = call is not None  # the crash came during or after the provider call
    error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:2000]
    attempts.finish(call, R.CRASHED, error=error, now=now)
    if leader.crashes + 1 >= POISON_LIMIT:
        Notification.objects.filter(pk=leader.pk).update(crashes=F("crashes") + 1)
        with transaction.atomic():
            rows = with_bundle(leader)
            fail_rows(rows, f"{timeline.target(leader)} parked: its handler failed {leader.crashes + 1} times "
                             f"({type(exc).__name__}: {exc})", now, lease=claim.lease, status=S.PARKED, error=error)
        return
    if claim.followers and not maybe_sent:
        # A bundle whose handler crashed: its other pages must not share the poison. They go on
        # their own (due now); only the leader waits and counts the crash.
        Notification.objects.filter(bundle=leader, status=S.SENDING).update(
            status=S.PENDING, bundle=None, due_at=now, deadline=None)
        claim = Claim(leader, [], claim.lease)
    if maybe_sent:  # the provider may have the message: reconcile instead of re-sending
        check = now + timedelta(seconds=UNKNOWN_RECHECK_SECONDS)
        if Notification.objects.filter(pk=leader.pk, status=S.SENDING, lease=claim.lease).update(
                crashes=F("crashes") + 1, outcome_unknown=True, error=error, deadline=check):
            timeline.log_call(claim, f"{{target}}: the handler failed during the provider call ({type(exc).__name__}); "
                             f"whether it arrived is checked at {timeline.clock_time(leader, check)}")
        return
    retry = now + backoff(leader.crashes + 1)
    if release(claim, due_at=retry, error=error, crashed=True):
        timeline.log_call(claim, f"{{target}}: the handler failed before calling the provider ({type(exc).__name__}: "
                         f"{exc}). Next try at {timeline.clock_time(leader, retry)}")

