"""Refusing replayed webhooks, where the sender gives us the means (docs/replays.md).

A signature proves who sent a request, not that it is new: whoever sees one signed request (a
log, a proxy, a stolen capture) could send it again, and senders retry a delivery when our answer
was lost. So every delivery that carries an id is acted on once:

- `first_time(scope, key, keep=…)` remembers the id in the database (SeenDelivery, unique per
  scope and key, so it holds across processes and machines). Call it inside the transaction that
  acts on the delivery: when acting fails, the id is forgotten with the rollback and the sender's
  retry goes through; a concurrent twin waits on the unique index and then sees the id.
- `check_timestamp(ts)` refuses a signed timestamp outside the window (Mailgun signs
  timestamp + token), so ids need only be remembered for as long as the window admits them
  (`remember_until`).

Ids without a date (Twilio's MessageSid and CallSid) are kept UNDATED_KEEP; `prune()` (beat,
hourly) forgets expired ones.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from . import clock
from .models import SeenDelivery
from .pgtext import without_nul

UNDATED_KEEP = timedelta(days=30)
FUTURE_SKEW = timedelta(minutes=5)  # a sender's clock may run a little ahead of ours


class Stale(Exception):
    """A signed timestamp outside the window: refused, and the sender should not retry it."""


def window():
    return timedelta(seconds=settings.WEBHOOK_MAX_AGE_SECONDS)


def check_timestamp(timestamp, *, now=None):
    """The signed Unix timestamp as an aware datetime, or Stale when it is not a number or lies
    outside [now - WEBHOOK_MAX_AGE_SECONDS, now + 5 min]."""
    now = now or clock.now()
    try:
        signed_at = datetime.fromtimestamp(float(timestamp), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise Stale("The signed timestamp is not a Unix time.") from None
    if not now - window() <= signed_at <= now + FUTURE_SKEW:
        raise Stale(f"The signed timestamp is {int((now - signed_at).total_seconds())} s old; accepted: up to "
                    f"{settings.WEBHOOK_MAX_AGE_SECONDS} s old, at most {int(FUTURE_SKEW.total_seconds())} s ahead.")
    return signed_at


def remember_until(signed_at):
    """How long to remember the id of a delivery signed at `signed_at`: until the window refuses it."""
    return signed_at + window() + FUTURE_SKEW


def first_time(scope, key, *, until=None, now=None):
    """True when no delivery with this id was acted on yet (and remember it until `until`, by
    default UNDATED_KEEP); False for a replay or a retry. A delivery without an id cannot be
    recognised again: True. NUL characters in the id are dropped (ilert/pgtext.py)."""
    if not key:
        return True
    now = now or clock.now()
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction goes on after a duplicate
            SeenDelivery.objects.create(scope=scope, key=without_nul(str(key))[:255], seen_at=now,
                                        expires_at=until or now + UNDATED_KEEP)
    except IntegrityError:
        return False
    return True


def prune(now=None):
    """Forget ids whose deliveries would be refused anyway; the number forgotten."""
    deleted, _ = SeenDelivery.objects.filter(expires_at__lt=now or clock.now()).delete()
    return deleted
