"""Claiming due notifications: lock due `pending` rows (select_for_update(skip_locked)), group pages to
one address into one message (bundling) unless the contact method's throttle or bundle window holds
them, and move each message to `sending` with a deadline in one compare-and-set on status and lease."""

import logging
import operator
from datetime import timedelta
from functools import reduce

from django.db import transaction
from django.db.models import BigIntegerField, Case, F, Q, Value, When
from django.db.models.functions import Coalesce

from alerts.models import Incident
from ilert import bulk

from .. import channels, providers
from ..models import DEFAULT_BUNDLE_SECONDS, Notification
from . import timeline
from .outcomes import Claim, deadline, fail_rows

log = logging.getLogger(__name__)
S = Notification.Status
# What sending, the timeline and the outcome read of a row: loaded with it, once per batch.
_RELATED = ("incident__alert_source", "user__tenant", "contact_method")


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


def _horizon(row, now):
    """Since when messages to the row's address count against its throttle or bundle window (None:
    neither applies), with its limits."""
    (maximum, minutes), bundle_seconds = _limits(row)
    if row.kind != Notification.Kind.PAGE or not maximum and not bundle_seconds:
        return None, (maximum, minutes, bundle_seconds)
    return now - max(timedelta(minutes=minutes), timedelta(seconds=bundle_seconds)), (maximum, minutes, bundle_seconds)


def _went_out(groups, rows, now):
    """{address: [claimed_at, …]}: the messages that went out lately to each address a group of the
    batch is held against (throttle, bundle window), oldest first, in one query."""
    horizons = {}
    for group in groups:
        horizon, _ = _horizon(group[0], now)
        if horizon is not None:
            address = _address(group[0])
            horizons[address] = min(horizon, horizons.get(address, horizon))
    if not horizons:
        return {}
    lately = reduce(operator.or_, (Q(user_id=user_id, channel=channel, address=address, claimed_at__gte=horizon)
                                   for (user_id, channel, address), horizon in horizons.items()))
    went_out = {address: [] for address in horizons}
    for user_id, channel, address, at in (
            Notification.objects.filter(lately, kind=Notification.Kind.PAGE, bundle__isnull=True,
                                        status__in=Notification.WENT_OUT)
            .exclude(pk__in=[row.pk for row in rows]).order_by("claimed_at")
            .values_list("user_id", "channel", "address", "claimed_at")):
        went_out[(user_id, channel, address)].append(at)
    return went_out


def _hold_until(group, now, went_out, taken=0):
    """When a group of pages to one address may go: None (now), or later (throttle / bundle window).
    `went_out`: when messages to the address went out lately (_went_out); `taken`: messages to it
    claimed earlier in this batch, not yet written."""
    horizon, (maximum, minutes, bundle_seconds) = _horizon(group[0], now)
    if horizon is None:
        return None  # neither a throttle nor a bundle window
    window = timedelta(minutes=minutes)
    recent = [at for at in went_out.get(_address(group[0]), ()) if at >= horizon] + [now] * taken
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
    """Claim up to `batch` messages due by `now` (all, or those `ids` name, with their bundle mates).

    What can be done once for the batch is: the rows with their incidents, users, organisations and
    contact methods come in one query, the organisations' provider settings in one more, every
    message is taken in one compare-and-set UPDATE and rendered here, its text kept in one UPDATE."""
    failed, cancelled, wanted, taken = [], [], [], {}
    with transaction.atomic():
        rows = _lock_due(now, ids, batch)
        groups = _groups(rows)
        went_out = _went_out(groups, rows, now)
        for group in groups:
            if len(wanted) >= batch:  # no more messages than asked for (bundle mates came along)
                break
            live = _live(group, failed, cancelled)
            if not live or _held(live, now, went_out, taken):
                continue
            wanted.append(live)
            if live[0].kind == Notification.Kind.PAGE:
                address = _address(live[0])
                taken[address] = taken.get(address, 0) + 1
        if cancelled:
            Notification.objects.filter(pk__in=cancelled, status=S.PENDING).update(
                status=S.CANCELLED, error="cancelled: no longer needed (incident, user or contact method)")
        claims = _take(wanted, now)
        providers.preload([row for c in claims for row in [c.leader, *c.followers]])
        _render(claims)
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
    addresses = {(u, c, a) for _pk, kind, u, c, a in locked if kind == Notification.Kind.PAGE}
    if addresses:  # one query for every address, as many mates as `batch` for each
        same = reduce(operator.or_, (Q(user_id=u, channel=c, address=a) for u, c, a in addresses))
        pks += list(Notification.objects.select_for_update(skip_locked=True)
                    .filter(same, status=S.PENDING, due_at__lte=now, kind=Notification.Kind.PAGE)
                    .exclude(pk__in=pks).order_by("due_at", "id").values_list("pk", flat=True)[:batch * len(addresses)])
    return list(
        Notification.objects.filter(pk__in=pks, status=S.PENDING).select_related(*_RELATED)
        .order_by("due_at", "id")
    )


def _live(group, failed, cancelled):
    """The rows of a group still worth sending: the others are added to `cancelled` (no longer
    needed) or to `failed` (an unusable contact method: the user's next step goes at once)."""
    live = []
    for row in group:
        if not _still_wanted(row):
            cancelled.append(row.pk)
            continue
        if row.contact_method is not None and not row.contact_method.usable and row.kind != "verify":
            reason = row.contact_method.disabled_reason or (
                "the number opted out (STOP)" if row.contact_method.opted_out else "not verified")
            failed.append((row, f"{timeline.target(row)} skipped: {reason}"))
            continue
        live.append(row)
    return live


def _address(row):
    return row.user_id, row.channel, row.address


def _held(live, now, went_out, taken):
    """Pages the throttle or bundle window holds: due again when it ends. `taken`: messages to each
    address claimed earlier in this batch (they count as sent now)."""
    if live[0].kind != Notification.Kind.PAGE:
        return False
    hold = _hold_until(live, now, went_out, taken.get(_address(live[0]), 0))
    if hold is None:
        return False
    Notification.objects.filter(pk__in=[r.pk for r in live], status=S.PENDING).update(
        due_at=hold, error=f"held until {hold:%H:%M:%S} UTC (throttle / bundling)")
    return True


def _take(groups, now):
    """The messages: every leader in one compare-and-set on status (the rows are locked), and the
    pages bundled into them in one more. A row that did not move (never, while the lock holds) is
    left."""
    if not groups:
        return []
    leaders = {group[0].pk: group for group in groups}
    until = now + deadline()
    moved = Notification.objects.filter(pk__in=list(leaders), status=S.PENDING).update(
        status=S.SENDING, lease=F("lease") + 1, claimed_at=now,
        first_claimed_at=Coalesce("first_claimed_at", now), deadline=until, outcome_unknown=False, bundle=None,
    )
    if moved != len(leaders):  # a belt to the braces: keep only the rows this UPDATE moved
        ours = dict(Notification.objects.filter(pk__in=list(leaders), status=S.SENDING, claimed_at=now)
                    .values_list("pk", "lease"))
        leaders = {pk: group for pk, group in leaders.items() if ours.get(pk) == group[0].lease + 1}
    claims = []
    for leader, *followers in leaders.values():
        _sending(leader, now, until, bundle=None)
        claims.append(Claim(leader, followers, leader.lease))
    _bundle(claims, now, until)
    return claims


def _bundle(claims, now, until):
    """The pages bundled into the messages, in one UPDATE (each row names its leader)."""
    into = {follower.pk: claim.leader.pk for claim in claims for follower in claim.followers}
    if not into:
        return
    moved = Notification.objects.filter(pk__in=list(into), status=S.PENDING).update(
        status=S.SENDING, claimed_at=now, lease=F("lease") + 1, first_claimed_at=Coalesce("first_claimed_at", now),
        deadline=until, bundle_id=Case(*[When(pk=pk, then=Value(leader)) for pk, leader in into.items()],
                                       output_field=BigIntegerField()),
    )
    if moved != len(into):  # a belt to the braces (the rows are locked): keep only those it moved
        ours = set(Notification.objects.filter(pk__in=list(into), status=S.SENDING, claimed_at=now)
                   .values_list("pk", flat=True))
        for claim in claims:
            claim.followers = [follower for follower in claim.followers if follower.pk in ours]
    for claim in claims:
        for follower in claim.followers:
            _sending(follower, now, until, bundle=claim.leader)


def _sending(row, now, until, *, bundle):
    """What the claim's UPDATE wrote, on the row in hand (no second read)."""
    row.status, row.lease, row.claimed_at, row.deadline = S.SENDING, row.lease + 1, now, until
    row.first_claimed_at = row.first_claimed_at or now
    row.bundle = bundle
    if bundle is None:
        row.outcome_unknown = False


def _render(claims):
    """Render each new message now (its text is kept for retries, render_once) and keep the texts
    in one UPDATE. A message whose rendering fails is left to its sender, which records the crash."""
    kept = []
    for claim in claims:
        leader = claim.leader
        if leader.sent_text:
            continue
        try:
            rendered = channels.get(leader.channel).render(leader, [leader, *claim.followers])
        except Exception:  # a bug or a poison pill: delivery renders again and records the failure
            log.info("notification %s: not rendered by its claim; its sender tries again", leader.pk)
            continue
        claim.rendered = rendered
        subject = leader.subject or rendered.subject[:500]
        for row in [leader, *claim.followers]:
            row.sent_text, row.subject = rendered.text, subject
            kept.append(row)
    if kept:
        bulk.update(Notification, kept, ["sent_text", "subject"])
