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
"""

import logging
import traceback
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, Min
from django.db.models.functions import Coalesce

from alerts import services as alert_services
from alerts.models import Incident, LogKind
from ilert import clock, metrics

from . import attempts, channels, providers, render, senders, text
from .channels import LookupUnsupported, SendError, dev
from .models import DEFAULT_BUNDLE_SECONDS, DEFAULT_THROTTLE, DeliveryAttempt, Notification

log = logging.getLogger(__name__)
S = Notification.Status
R = DeliveryAttempt.Result

BACKOFF_SECONDS = (10, 30, 90, 300, 900)
UNKNOWN_RECHECK_SECONDS = 15  # after a timeout, ask the provider this much later
# A request whose answer we never got may still be queued at the provider and create its message
# late: "not there" is trusted only once the request is this old (before that, ask again).
UNKNOWN_SETTLE_SECONDS = 60
POISON_LIMIT = 3
MAX_LOOKUPS = 5
CHANNEL_LABEL = {"email": "Email", "sms": "SMS", "voice": "Call", "push": "Push", "webpush": "Web push"}
PROVIDER_LABEL = {"twilio": "Twilio", "dev": "the dev outbox", "fcm": "Firebase", "email": "the mail server",
                  "anymail": "the email provider", "webpush": "the push service"}


@dataclass
class Claim:
    leader: Notification
    followers: list
    lease: int


def _backoff(attempt):
    return timedelta(seconds=BACKOFF_SECONDS[min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1])


def _deadline():
    return timedelta(seconds=settings.NOTIFICATION_SEND_DEADLINE_SECONDS)


def _target(row):
    """ "SMS to Rita Responder (+49…4567)" for the timeline."""
    device = row.contact_method.device_name if row.contact_method_id and row.contact_method else ""
    where = text.mask_address(row.channel, row.address, device)
    return f"{CHANNEL_LABEL[row.channel]} to {row.user.display_name} ({where})"


def _with_bundle(row):
    """A leader and the rows bundled into its message that are still sending."""
    return [row] + list(Notification.objects.filter(bundle=row, status=S.SENDING).select_related("incident", "user"))


def _log(row, message, *, kind=LogKind.NOTIFICATION, data=None):
    if row.incident_id is None or row.kind != Notification.Kind.PAGE:
        return
    payload = {"notification": row.pk, "channel": row.channel, "status": row.status}
    payload.update(data or {})
    alert_services.log(row.incident, kind, message, via=row.channel, data=payload)


def _log_call(claim, message, *, kind=LogKind.NOTIFICATION):
    """The same line on the timeline of every incident a message carried (its leader and bundle)."""
    for row in [claim.leader] + claim.followers:
        _log(row, message.replace("{target}", _target(row)), kind=kind)


def _clock_time(row, moment):
    """14:02:05 CET — in the organisation's time zone, named (timelines are read by everyone)."""
    local = render.local_time(row.user, moment, organisation=True)
    return local.strftime("%H:%M:%S %Z")


# --- claiming --------------------------------------------------------------------------------------


def _still_wanted(row):
    if not row.user.is_active:
        return False
    if row.kind == Notification.Kind.VERIFY:
        return row.contact_method is not None and not row.contact_method.is_verified
    if row.kind != Notification.Kind.PAGE:
        return True
    incident = row.incident
    if incident.status == Incident.Status.RESOLVED:
        return False
    if incident.status == Incident.Status.ACCEPTED:
        # Pages queued before the acceptance are over; a reassignment after it still pages.
        return incident.accepted_at is not None and row.created_at > incident.accepted_at
    return True


def _limits(row):
    method = row.contact_method
    if method is not None:
        return method.throttle, method.bundle_window
    return DEFAULT_THROTTLE[row.channel], DEFAULT_BUNDLE_SECONDS


def _hold_until(group, now):
    """When a group of pages to one address may go: None (now), or later (throttle / bundle window)."""
    leader = group[0]
    (maximum, minutes), bundle_seconds = _limits(leader)
    window = timedelta(minutes=minutes)
    horizon = now - max(window, timedelta(seconds=bundle_seconds))
    recent = list(
        Notification.objects.filter(
            user_id=leader.user_id, channel=leader.channel, address=leader.address, kind=Notification.Kind.PAGE,
            bundle__isnull=True, status__in=Notification.WENT_OUT, claimed_at__gte=horizon,
        ).exclude(pk__in=[row.pk for row in group]).order_by("claimed_at").values_list("claimed_at", flat=True)
    )
    hold = None
    in_window = [at for at in recent if at > now - window]
    if maximum and len(in_window) >= maximum:
        hold = in_window[len(in_window) - maximum] + window
    if bundle_seconds and recent and recent[-1] > now - timedelta(seconds=bundle_seconds):
        until = recent[-1] + timedelta(seconds=bundle_seconds)
        hold = until if hold is None else max(hold, until)
    return hold


def _groups(rows):
    groups, index = [], {}
    for row in rows:
        if row.kind != Notification.Kind.PAGE or _limits(row)[1] == 0:  # bundling off: one message each
            groups.append([row])
            continue
        # A retry goes again with exactly the pages of its first attempt (they share its sent_text);
        # a page that came in between is not in that text, so it goes in a message of its own.
        key = (row.user_id, row.channel, row.address, row.sent_text)
        if key not in index:
            index[key] = len(groups)
            groups.append([])
        groups[index[key]].append(row)
    return groups


def _claim(now, ids=None, batch=50):
    claims, failed = [], []
    with transaction.atomic():
        due = Notification.objects.select_for_update(skip_locked=True).filter(status=S.PENDING, due_at__lte=now)
        if ids is not None:
            due = due.filter(pk__in=ids)
        locked = list(due.order_by("due_at", "id").values_list("pk", "kind", "user_id", "channel", "address")[:batch])
        if not locked:
            return []
        pks = [row[0] for row in locked]
        # Pages due to the same address go out together (bundling), even when the kick named one.
        for key in {(u, c, a) for _pk, kind, u, c, a in locked if kind == Notification.Kind.PAGE}:
            mates = Notification.objects.select_for_update(skip_locked=True).filter(
                status=S.PENDING, due_at__lte=now, kind=Notification.Kind.PAGE,
                user_id=key[0], channel=key[1], address=key[2],
            ).exclude(pk__in=pks).values_list("pk", flat=True)[:batch]
            pks += list(mates)
        rows = list(
            Notification.objects.filter(pk__in=pks, status=S.PENDING)
            .select_related("incident__alert_source", "user__tenant", "contact_method")
            .order_by("due_at", "id")
        )
        for group in _groups(rows):
            if len(claims) >= batch:  # no more messages than asked for (bundle mates came along)
                break
            live = []
            for row in group:
                if not _still_wanted(row):
                    Notification.objects.filter(pk=row.pk, status=S.PENDING).update(
                        status=S.CANCELLED, error="cancelled: no longer needed (incident, user or contact method)")
                    continue
                if row.contact_method is not None and not row.contact_method.usable and row.kind != "verify":
                    reason = row.contact_method.disabled_reason or (
                        "the number opted out (STOP)" if row.contact_method.opted_out else "not verified")
                    failed.append((row, f"{_target(row)} skipped: {reason}"))
                    continue
                live.append(row)
            if not live:
                continue
            if live[0].kind == Notification.Kind.PAGE:
                hold = _hold_until(live, now)
                if hold is not None:
                    Notification.objects.filter(pk__in=[r.pk for r in live], status=S.PENDING).update(
                        due_at=hold, error=f"held until {hold:%H:%M:%S} UTC (throttle / bundling)")
                    continue
            leader, followers = live[0], live[1:]
            lease = leader.lease + 1
            won = Notification.objects.filter(pk=leader.pk, status=S.PENDING, lease=leader.lease).update(
                status=S.SENDING, lease=lease, claimed_at=now,
                first_claimed_at=Coalesce("first_claimed_at", now), deadline=now + _deadline(),
                outcome_unknown=False, bundle=None,
            )
            if not won:
                continue
            claimed_followers = []
            for follower in followers:
                if Notification.objects.filter(pk=follower.pk, status=S.PENDING).update(
                        status=S.SENDING, bundle=leader, claimed_at=now, lease=F("lease") + 1,
                        first_claimed_at=Coalesce("first_claimed_at", now), deadline=now + _deadline()):
                    claimed_followers.append(follower)
            leader.refresh_from_db()
            claims.append(Claim(leader, claimed_followers, lease))
        for row, message in failed:
            _fail_rows([row], message, now, lease=None)
    return claims


# --- sending ---------------------------------------------------------------------------------------


def _inline():
    """Inside a transaction (a test, a shell) the claimed rows are invisible to other connections,
    so the messages are sent from this thread, one after another."""
    return transaction.get_connection().in_atomic_block


def dispatch(ids=None, now=None, batch=50, wait=True):
    """Claim due notifications (all, or just `ids`) and send them, side by side on the sender
    threads. Returns how many messages were claimed. `wait=False` (a Celery worker) returns once
    they are handed over: a worker thread is never held by a provider call.

    No more rows are claimed than the sender threads can start now; the rest stays pending for a
    worker process with free threads (the sweep picks it up)."""
    now = now or clock.now()
    if _inline():
        claims = _claim(now, ids, batch)
        for claim in claims:
            _deliver(claim)
        return len(claims)
    batch = min(batch, senders.pool.free())
    if not batch:
        return 0  # every sender thread is busy: the rows stay pending for a process with free threads
    claims = _claim(now, ids, batch)
    futures = [senders.pool.submit(_deliver, claim) for claim in claims]
    if wait:
        senders.pool.wait(futures)
    return len(claims)


def _rendered(claim, channel, items):
    """What the message says. Rendered once, at the first attempt, and kept on the leader and the
    pages bundled into it (`sent_text`, a page's `subject`): a retry sends exactly that text, even
    if the incident or its source changed in between, so a provider lookup recognises either
    attempt. Only what is not kept (an email's HTML part) is built again for a retry of an email or
    a push."""
    leader = claim.leader
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
    if leader.channel in ("email", "push", "webpush"):
        again = channel.render(leader, items)
        rendered.html, rendered.extra = again.html, again.extra
        if leader.kind != Notification.Kind.PAGE:
            rendered.subject = again.subject  # a notice's title: fixed ("ilert", or its own subject)
    return rendered


def _deliver(claim):
    leader = claim.leader
    items = [leader] + claim.followers
    channel = channels.get(leader.channel)
    call = None
    try:
        rendered = _rendered(claim, channel, items)
        call = _start_send(claim)
        if call is None:
            return  # the row is no longer ours: nothing was sent, the sweeper settles it
        sent = channel.send(leader, rendered, items)
    except SendError as exc:
        _send_failed(claim, exc, call)
    except Exception as exc:  # a bug or a poison pill: record it, never stall the engine
        log.exception("notification %s: handler crashed", leader.pk)
        _crashed(claim, exc, call)
    else:
        metrics.NOTIFICATIONS_SENT.labels(leader.channel, sent.provider or "unknown").inc()
        _sent(claim, sent, call)


def _start_send(claim):
    """Take the row again right before its provider call, in one compare-and-set: still `sending`
    under this claim's lease and before its deadline. The deadline then counts from now, the row is
    marked `outcome_unknown` (a call is out; cleared when its outcome is recorded) and the attempt
    is recorded. None: the row is no longer ours (the sweeper took it back after the deadline, or
    someone settled it) and nothing may be sent."""
    now = clock.now()
    leader = claim.leader
    with transaction.atomic():
        if not Notification.objects.filter(pk=leader.pk, status=S.SENDING, lease=claim.lease, deadline__gt=now).update(
                deadline=now + _deadline(), attempts=F("attempts") + 1, outcome_unknown=True):
            log.info("notification %s: not sent, its claim %s ended before the call", leader.pk, claim.lease)
            return None
        leader.attempts += 1
        return attempts.start([leader] + claim.followers, DeliveryAttempt.Kind.SEND, claim.lease, now)


def _sent(claim, sent, call=None, *, now=None, found=""):
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
                _log_call(claim, f"{{target}}: {_provider(sent.provider)} took a message {_clock_time(leader, now)} "
                                 f"({sent.provider_id}) after the send's deadline, when the row had already been "
                                 "taken over; it may have arrived twice", kind=LogKind.WARNING)
            return False
        Notification.objects.filter(bundle=leader, status=S.SENDING).update(
            status=S.SENT, sent_at=now, provider=sent.provider, provider_id=sent.provider_id[:255],
            provider_account=sent.account[:64], deadline=None, error="")
        rows = [leader] + list(Notification.objects.filter(bundle=leader).select_related("incident", "user"))
        numbers = [f"#{row.incident.number}" for row in rows if row.incident_id]
        tries = f" (try {leader.attempts})" if leader.attempts > 1 and not found else ""
        for row in rows:
            row.status = S.SENT
            extra = f" (one message for {', '.join(numbers)})" if len(rows) > 1 else ""
            _log(row, f"{_target(row)} sent {_clock_time(row, now)}{tries}{extra}{found}",
                 data={"provider_id": sent.provider_id})
    return True


def _provider(name):
    return PROVIDER_LABEL.get(name, name or "the provider")


def _release(claim, *, due_at, error, crashed=False):
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


def _send_failed(claim, exc, call, now=None):
    now = now or clock.now()
    leader = claim.leader
    metrics.provider_error(leader.channel, exc)
    attempts.finish(call, R.TIMEOUT if exc.unknown else R.FAILED, error=exc.message, now=now)
    if exc.unknown:
        check = now + timedelta(seconds=UNKNOWN_RECHECK_SECONDS)
        if Notification.objects.filter(pk=leader.pk, status=S.SENDING, lease=claim.lease).update(
                outcome_unknown=True, deadline=check, error=exc.message[:2000]):
            _log_call(claim, f"{{target}}: {exc.message}. Not sent again blindly: whether it arrived is "
                             f"checked at {_clock_time(leader, check)}")
        return
    method = leader.contact_method
    if method is not None and exc.opt_out:
        type(method).objects.filter(pk=method.pk).update(opted_out=True)
    if method is not None and exc.disable:
        type(method).objects.filter(pk=method.pk).update(disabled_reason=exc.disable[:255])
    if exc.gone:
        from . import services

        services.webpush_subscription_gone(leader, exc.message, now=now)
    if exc.permanent or leader.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        with transaction.atomic():
            rows = _with_bundle(leader)
            tries = "" if exc.permanent else f" after {leader.attempts} tries"
            _fail_rows(rows, f"{_target(leader)} failed{tries}: {exc.message}", now, lease=claim.lease)
        return
    retry = now + _backoff(leader.attempts)
    if _release(claim, due_at=retry, error=exc.message):
        _log_call(claim, f"{{target}} failed (try {leader.attempts} of {settings.NOTIFICATION_MAX_ATTEMPTS}): "
                         f"{exc.message}. Next try at {_clock_time(leader, retry)}")


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
            rows = _with_bundle(leader)
            _fail_rows(rows, f"{_target(leader)} parked: its handler failed {leader.crashes + 1} times "
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
            _log_call(claim, f"{{target}}: the handler failed during the provider call ({type(exc).__name__}); "
                             f"whether it arrived is checked at {_clock_time(leader, check)}")
        return
    retry = now + _backoff(leader.crashes + 1)
    if _release(claim, due_at=retry, error=error, crashed=True):
        _log_call(claim, f"{{target}}: the handler failed before calling the provider ({type(exc).__name__}: "
                         f"{exc}). Next try at {_clock_time(leader, retry)}")


def _fail_rows(rows, message, now, *, lease, status=S.FAILED, error=None):
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
        suffix = f" Next: {_target(following).split(' (')[0].lower()} now." if following else (
            " No further steps." if row.kind == Notification.Kind.PAGE else "")
        _log(row, message + "." + suffix if not message.endswith(".") else message + suffix,
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
    from . import services

    services._kick([following.pk])
    return following


# --- reconciling rows stuck in `sending` -----------------------------------------------------------


def _routes_to_dev(row):
    if row.channel in ("sms", "voice"):
        return providers.twilio_for(row.tenant_id) is None
    if row.channel == "push":
        return not providers.firebase_credentials_for(row.tenant_id)
    if row.channel == "webpush":
        return False  # the browser vendor's push service: always real
    from .channels.email import DEV_BACKEND

    return settings.EMAIL_BACKEND == DEV_BACKEND


def reconcile(now=None, batch=50, wait=True):
    """Settle rows still `sending` after their deadline without ever sending twice."""
    now = now or clock.now()
    inline = _inline()
    room = batch if inline else senders.pool.free()  # lookups are provider calls too
    claims, queued = _take_back(now, batch, room)
    if inline:
        for claim in claims:
            _settle(claim)
    else:
        futures = [senders.pool.submit(_settle, claim) for claim in claims]
        if wait:
            senders.pool.wait(futures)
    return len(claims) + queued


def _take_back(now, batch, room):
    """Rows past their deadline: queue again those that never started a call; claim up to `room`
    of the others for a lookup."""
    claims, queued = [], 0
    with transaction.atomic():
        stuck = list(
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=S.SENDING, deadline__lte=now, bundle__isnull=True)
            .select_related("incident", "user", "contact_method").order_by("deadline")[:batch]
        )
        for row in stuck:
            if not row.outcome_unknown:
                # Claimed, but no provider call was started under this claim (its worker stopped, or
                # it waited past the deadline): nothing can be at the provider. Queue it again.
                claim = Claim(row, [], row.lease)
                if _release(claim, due_at=now, error="not started before its deadline; queued again"):
                    queued += 1
                    _log(row, f"{_target(row)} was not started before its deadline; queued again")
                continue
            if len(claims) >= room:
                continue
            lease = row.lease + 1
            if Notification.objects.filter(pk=row.pk, status=S.SENDING, lease=row.lease).update(
                    lease=lease, lookups=F("lookups") + 1, deadline=now + _deadline()):
                claims.append(Claim(row, [], lease))
    return claims, queued


def _found(provider, last):
    """Why a message had to be looked up, for the timeline: only what really happened."""
    where = "in the dev outbox" if provider == "dev" else f"at {_provider(provider)}"
    why = {
        R.TIMEOUT: " after a timeout",
        R.CRASHED: " after its handler failed mid-call",
        R.CALLING: " (its worker stopped before recording the answer)",
    }.get(last.result if last else None, "")
    return where, why


def _settle(claim):
    now = clock.now()
    row = Notification.objects.select_related("incident", "user", "contact_method").get(pk=claim.leader.pk)
    if row.status != S.SENDING or row.lease != claim.lease:
        return  # settled meanwhile (a late status callback)
    claim.leader = row
    claim.followers = _with_bundle(row)[1:]
    channel = channels.get(row.channel)
    last = attempts.last_send(row)
    call = None
    try:
        in_outbox = dev.lookup(row)  # read first: the message may have gone to the dev outbox
        if in_outbox:
            provider, name = channels.Sent("dev", in_outbox), "dev"
        elif _routes_to_dev(row):
            provider, name = None, "dev"
        elif not channel.can_look_up:
            raise LookupUnsupported(row.channel)
        else:
            name = "twilio"
            call = attempts.start([row] + claim.followers, DeliveryAttempt.Kind.LOOKUP, claim.lease, now)
            sid = channel.lookup(row)
            provider = channels.Sent("twilio", sid, "") if sid else None
            if provider is not None:
                account = providers.twilio_for(row.tenant_id)
                provider.account = account.account_sid if account else ""
    except LookupUnsupported:
        with transaction.atomic():
            rows = _with_bundle(row)
            _fail_rows(rows, f"{_target(row)} may or may not have arrived: the provider did not answer in time "
                             "and cannot be asked. Not sent again, to avoid a double page", now,
                       lease=claim.lease, status=S.UNCERTAIN)
        return
    except Exception as exc:  # the provider could not be asked now: ask again later
        log.warning("notification %s: lookup failed: %s", row.pk, exc)
        attempts.finish(call, R.FAILED, error=str(exc))
        if row.lookups >= MAX_LOOKUPS:
            with transaction.atomic():
                rows = _with_bundle(row)
                _fail_rows(rows, f"{_target(row)} may or may not have arrived: the provider could not be asked "
                                 f"({exc}). Not sent again", now, lease=claim.lease, status=S.UNCERTAIN)
            return
        again = now + _backoff(row.lookups)
        if Notification.objects.filter(pk=row.pk, lease=claim.lease, status=S.SENDING).update(
                deadline=again, error=f"lookup failed: {exc}"[:2000]):
            _log_call(claim, f"{{target}}: could not ask {_provider(name)} whether it arrived ({exc}); "
                             f"asking again at {_clock_time(row, again)}")
        return
    where, why = _found(name, last)
    if provider is not None:
        attempts.finish(call, R.FOUND, provider=provider.provider, provider_id=provider.provider_id)
        _sent(claim, provider, now=now, found=f" (found {where}{why}; not sent again)")
        return
    attempts.finish(call, R.NOT_FOUND, provider=name)
    settled = last.started_at + timedelta(seconds=UNKNOWN_SETTLE_SECONDS) if last and name != "dev" else now
    if now < settled:  # the unanswered request may still be on its way: ask again before sending again
        if Notification.objects.filter(pk=row.pk, lease=claim.lease, status=S.SENDING).update(deadline=settled):
            _log_call(claim, f"{{target}} is not {where} yet{why}; asking again at {_clock_time(row, settled)} "
                             "before any second send")
        return
    # The provider has no such message: it was never sent, so sending is safe.
    if row.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        with transaction.atomic():
            rows = _with_bundle(row)
            _fail_rows(rows, f"{_target(row)} failed after {row.attempts} tries (not found {where}{why})", now,
                       lease=claim.lease)
        return
    if _release(claim, due_at=now, error=(row.error + "; the provider has no such message: sending again").strip("; ")):
        _log_call(claim, f"{{target}} is not {where}{why}: sending again now")


# --- provider status callbacks ----------------------------------------------------------------------

DELIVERED = {"delivered", "read", "completed", "answered"}
UNDELIVERED = {"undelivered", "failed"}
UNANSWERED = {"busy", "no-answer", "canceled", "voicemail"}


def record_status(notification, status, *, provider_id="", error_code="", duration="", answered_by="", now=None):
    """A provider's delivery report (Twilio status callback) for a notification (and its bundle)."""
    now = now or clock.now()
    status = (status or "").lower()
    if status == "completed" and answered_by.startswith(("machine", "fax")):
        status = "voicemail"  # we hung up on the machine: nobody heard the page
    with transaction.atomic():
        locked = Notification.objects.select_for_update(of=("self",)).select_related("incident", "user",
                                                                                     "contact_method")
        row = locked.get(pk=notification.pk)
        if row.bundle_id:
            row = locked.get(pk=row.bundle_id)
        if provider_id and not row.provider_id and row.status in (S.SENDING, S.UNCERTAIN):
            # A late callback settles a send whose answer we never got.
            if not Notification.objects.filter(provider="twilio", provider_id=provider_id).exclude(pk=row.pk).exists():
                Notification.objects.filter(pk__in=[row.pk] + list(row.bundled.values_list("pk", flat=True))).update(
                    status=S.SENT, sent_at=now, provider="twilio", provider_id=provider_id, deadline=None,
                    outcome_unknown=False, error="")
                row.refresh_from_db()
                for item in [row] + list(row.bundled.select_related("incident", "user")):
                    _log(item, f"{_target(item)} sent (Twilio's status report for {provider_id} came before "
                               "the answer to our request)", data={"provider_id": provider_id})
        if provider_id and row.provider_id and provider_id != row.provider_id:
            return row
        rows = [row] + list(row.bundled.select_related("incident", "user"))
        if status in DELIVERED and row.status in (S.SENT, S.SENDING):
            Notification.objects.filter(pk__in=[r.pk for r in rows]).update(status=S.DELIVERED, delivered_at=now)
            verb = "answered" if row.channel == "voice" else "delivered"
            length = f", {duration} s" if duration else ""
            for item in rows:
                item.status = S.DELIVERED
                _log(item, f"{_target(item)} {verb} {_clock_time(item, now)}{length}")
        elif status in UNDELIVERED and row.status in (S.SENT, S.SENDING, S.DELIVERED):
            detail = f" (error {error_code})" if error_code else ""
            if error_code == "21610" and row.contact_method_id:
                type(row.contact_method).objects.filter(pk=row.contact_method_id).update(opted_out=True)
            Notification.objects.filter(pk__in=[r.pk for r in rows]).update(status=S.SENDING)
            _fail_rows(rows, f"{_target(row)} was not delivered{detail}", now, lease=None)
        elif status in UNANSWERED and row.status in (S.SENT, S.SENDING):
            Notification.objects.filter(pk__in=[r.pk for r in rows]).update(error=f"call {status}")
            for item in rows:
                _log(item, f"{_target(item)} not answered ({status}); nothing changes, escalation goes on")
    return row


# --- the sweeper ---------------------------------------------------------------------------------


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
        from . import reminders

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
