"""Claiming due notifications: lock due `pending` rows (select_for_update(skip_locked)), group pages to
one address into one message (bundling) unless the contact method's throttle or bundle window holds
them, and move each message to `sending` with a deadline in one compare-and-set on status and lease."""

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce

from alerts.models import Incident

from .. import channels
from ..models import DEFAULT_BUNDLE_SECONDS, Notification
from . import timeline
from .outcomes import Claim, deadline, fail_rows

S = Notification.Status


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
    return channels.get(row.channel).throttle, DEFAULT_BUNDLE_SECONDS


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


def claim(now, ids=None, batch=50):
    """Claim up to `batch` messages due by `now` (all, or those `ids` name, with their bundle mates)."""
    claims, failed = [], []
    with transaction.atomic():
        rows = _lock_due(now, ids, batch)
        for group in _groups(rows):
            if len(claims) >= batch:  # no more messages than asked for (bundle mates came along)
                break
            live = _live(group, failed)
            if not live or _held(live, now):
                continue
            taken = _take(live, now)
            if taken is not None:
                claims.append(taken)
        for row, message in failed:
            fail_rows([row], message, now, lease=None)
    return claims


def _lock_due(now, ids, batch):
    """The due pending rows (locked, skipping those another worker holds), with the pages due to the
    same address: they go out together (bundling), even when the kick named one."""
    due = Notification.objects.select_for_update(skip_locked=True).filter(status=S.PENDING, due_at__lte=now)
    if ids is not None:
        due = due.filter(pk__in=ids)
    locked = list(due.order_by("due_at", "id").values_list("pk", "kind", "user_id", "channel", "address")[:batch])
    if not locked:
        return []
    pks = [row[0] for row in locked]
    for user_id, channel, address in {(u, c, a) for _pk, kind, u, c, a in locked if kind == Notification.Kind.PAGE}:
        mates = Notification.objects.select_for_update(skip_locked=True).filter(
            status=S.PENDING, due_at__lte=now, kind=Notification.Kind.PAGE,
            user_id=user_id, channel=channel, address=address,
        ).exclude(pk__in=pks).values_list("pk", flat=True)[:batch]
        pks += list(mates)
    return list(
        Notification.objects.filter(pk__in=pks, status=S.PENDING)
        .select_related("incident__alert_source", "user__tenant", "contact_method")
        .order_by("due_at", "id")
    )


def _live(group, failed):
    """The rows of a group still worth sending: the others are cancelled (no longer needed) or
    added to `failed` (an unusable contact method: the user's next step goes at once)."""
    live = []
    for row in group:
        if not _still_wanted(row):
            Notification.objects.filter(pk=row.pk, status=S.PENDING).update(
                status=S.CANCELLED, error="cancelled: no longer needed (incident, user or contact method)")
            continue
        if row.contact_method is not None and not row.contact_method.usable and row.kind != "verify":
            reason = row.contact_method.disabled_reason or (
                "the number opted out (STOP)" if row.contact_method.opted_out else "not verified")
            failed.append((row, f"{timeline.target(row)} skipped: {reason}"))
            continue
        live.append(row)
    return live


def _held(live, now):
    """Pages the throttle or bundle window holds: due again when it ends."""
    if live[0].kind != Notification.Kind.PAGE:
        return False
    hold = _hold_until(live, now)
    if hold is None:
        return False
    Notification.objects.filter(pk__in=[r.pk for r in live], status=S.PENDING).update(
        due_at=hold, error=f"held until {hold:%H:%M:%S} UTC (throttle / bundling)")
    return True


def _take(live, now):
    """One message: the leader (compare-and-set on status and lease) and the pages bundled into it."""
    leader, followers = live[0], live[1:]
    lease = leader.lease + 1
    won = Notification.objects.filter(pk=leader.pk, status=S.PENDING, lease=leader.lease).update(
        status=S.SENDING, lease=lease, claimed_at=now,
        first_claimed_at=Coalesce("first_claimed_at", now), deadline=now + deadline(),
        outcome_unknown=False, bundle=None,
    )
    if not won:
        return None
    claimed_followers = []
    for follower in followers:
        if Notification.objects.filter(pk=follower.pk, status=S.PENDING).update(
                status=S.SENDING, bundle=leader, claimed_at=now, lease=F("lease") + 1,
                first_claimed_at=Coalesce("first_claimed_at", now), deadline=now + deadline()):
            claimed_followers.append(follower)
    leader.refresh_from_db()
    return Claim(leader, claimed_followers, lease)
