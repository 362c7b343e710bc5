"""Rows still `sending` after their deadline, settled without ever sending twice. One whose claim
never started a provider call is queued again; one that did (a worker that died mid-call, a read
timeout) is looked up at the provider (channels: `lookup`), never re-sent blindly."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from ilert import clock

from .. import attempts, channels, providers
from ..channels import LookupUnsupported, dev
from ..models import DeliveryAttempt, Notification
from . import timeline
from .outcomes import (
    MAX_LOOKUPS,
    UNKNOWN_SETTLE_SECONDS,
    Claim,
    backoff,
    deadline,
    fail_rows,
    record_sent,
    release,
    with_bundle,
)

log = logging.getLogger(__name__)
S = Notification.Status
R = DeliveryAttempt.Result


def take_back(now, batch, room):
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
                if release(claim, due_at=now, error="not started before its deadline; queued again"):
                    queued += 1
                    timeline.log(row, f"{timeline.target(row)} was not started before its deadline; queued again")
                continue
            if len(claims) >= room:
                continue
            lease = row.lease + 1
            if Notification.objects.filter(pk=row.pk, status=S.SENDING, lease=row.lease).update(
                    lease=lease, lookups=F("lookups") + 1, deadline=now + deadline()):
                claims.append(Claim(row, [], lease))
    return claims, queued


def _found(provider, last):
    """Why a message had to be looked up, for the timeline: only what really happened."""
    where = "in the dev outbox" if provider == "dev" else f"at {timeline.provider(provider)}"
    why = {
        R.TIMEOUT: " after a timeout",
        R.CRASHED: " after its handler failed mid-call",
        R.CALLING: " (its worker stopped before recording the answer)",
    }.get(last.result if last else None, "")
    return where, why


def settle(claim):
    """Ask whether the provider took a message whose outcome is unknown: found → sent (no second
    send); not found → pending again once that is safe; cannot ask → uncertain."""
    now = clock.now()
    row = Notification.objects.select_related("incident", "user", "contact_method").get(pk=claim.leader.pk)
    if row.status != S.SENDING or row.lease != claim.lease:
        return  # settled meanwhile (a late status callback)
    claim.leader = row
    claim.followers = with_bundle(row)[1:]
    last = attempts.last_send(row)
    channel = channels.get(row.channel)
    call, name = None, None
    try:
        found, name = _in_dev_outbox(channel, row)
        if name is None:
            name = "twilio"
            call = attempts.start([row] + claim.followers, DeliveryAttempt.Kind.LOOKUP, claim.lease, now)
            found = _at_provider(channel, row)
    except LookupUnsupported:
        with transaction.atomic():
            fail_rows(with_bundle(row), f"{timeline.target(row)} may or may not have arrived: the provider did not "
                                        "answer in time and cannot be asked. Not sent again, to avoid a double page",
                      now, lease=claim.lease, status=S.UNCERTAIN)
        return
    except Exception as exc:  # the provider could not be asked now: ask again later
        _ask_later(claim, row, exc, call, now, name)
        return
    where, why = _found(name, last)
    if found is not None:
        attempts.finish(call, R.FOUND, provider=found.provider, provider_id=found.provider_id)
        record_sent(claim, found, now=now, found=f" (found {where}{why}; not sent again)")
        return
    attempts.finish(call, R.NOT_FOUND, provider=name)
    _not_found(claim, row, last, name, where, why, now)


def _in_dev_outbox(channel, row):
    """(Sent or None, "dev") when the dev outbox answers; (None, None): ask the provider. Raises
    LookupUnsupported when the provider cannot be asked."""
    in_outbox = dev.lookup(row)  # read first: the message may have gone to the dev outbox
    if in_outbox:
        return channels.Sent("dev", in_outbox), "dev"
    if channel.routes_to_dev(row.tenant_id):
        return None, "dev"
    if not channel.can_look_up:
        raise LookupUnsupported(row.channel)
    return None, None


def _at_provider(channel, row):
    sid = channel.lookup(row)
    if not sid:
        return None
    account = providers.twilio_for(row.tenant_id)
    return channels.Sent("twilio", sid, account.account_sid if account else "")


def _ask_later(claim, row, exc, call, now, name):
    log.warning("notification %s: lookup failed: %s", row.pk, exc)
    attempts.finish(call, R.FAILED, error=str(exc))
    if row.lookups >= MAX_LOOKUPS:
        with transaction.atomic():
            fail_rows(with_bundle(row), f"{timeline.target(row)} may or may not have arrived: the provider could "
                                        f"not be asked ({exc}). Not sent again", now, lease=claim.lease,
                      status=S.UNCERTAIN)
        return
    again = now + backoff(row.lookups)
    if Notification.objects.filter(pk=row.pk, lease=claim.lease, status=S.SENDING).update(
            deadline=again, error=f"lookup failed: {exc}"[:2000]):
        timeline.log_call(claim, f"{{target}}: could not ask {timeline.provider(name)} whether it arrived "
                                 f"({exc}); asking again at {timeline.clock_time(row, again)}")


def _not_found(claim, row, last, name, where, why, now):
    settled = last.started_at + timedelta(seconds=UNKNOWN_SETTLE_SECONDS) if last and name != "dev" else now
    if now < settled:  # the unanswered request may still be on its way: ask again before sending again
        if Notification.objects.filter(pk=row.pk, lease=claim.lease, status=S.SENDING).update(deadline=settled):
            timeline.log_call(claim, f"{{target}} is not {where} yet{why}; asking again at "
                                     f"{timeline.clock_time(row, settled)} before any second send")
        return
    # The provider has no such message: it was never sent, so sending is safe.
    if row.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        with transaction.atomic():
            fail_rows(with_bundle(row), f"{timeline.target(row)} failed after {row.attempts} tries (not found "
                                        f"{where}{why})", now, lease=claim.lease)
        return
    if release(claim, due_at=now, error=(row.error + "; the provider has no such message: sending again").strip("; ")):
        timeline.log_call(claim, f"{{target}} is not {where}{why}: sending again now")
