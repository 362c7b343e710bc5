"""Notices ("#4711 accepted by Ana") and reminders: one message to the user's notice target."""

from django.db import IntegrityError, transaction

from accounts.models import User
from ilert import clock

from .. import channels
from ..models import Notification, NotificationSettings
from .outbox import key, kick
from .rules import EMAIL, settings_for, usable_methods


def notice_target(user):
    """Where a user's notices and reminders go: their choice, else a push device, else email (the
    order is the channels' `notice_rank`)."""
    chosen = settings_for(user).notice_contact_method
    if chosen is not None and chosen.usable:
        return chosen.kind, chosen.address, chosen
    ranked = sorted((c for c in channels.REGISTERED if c.notice_rank), key=lambda c: c.notice_rank)
    usable = usable_methods(user)
    for channel in ranked:
        for method in usable:
            if method.kind == channel.name:
                return method.kind, method.address, method
    return EMAIL, user.email, None


def queue_message(user, *, kind, dedup_key, body, subject="", incident=None):
    """A notice or reminder to the user's notice target, at once; idempotent by `dedup_key`."""
    channel, address, method = notice_target(user)
    if Notification.objects.filter(dedup_key=dedup_key).exists():
        return None
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                tenant_id=user.tenant_id, kind=kind, incident=incident, user=user, contact_method=method,
                channel=channel, address=address, step=kind, dedup_key=dedup_key, due_at=clock.now(),
                subject=subject[:500], body=body,
            )
    except IntegrityError:
        return None
    kick([notification.pk])
    return notification


def _paged_users(incident):
    ids = set(Notification.objects.filter(incident=incident, kind=Notification.Kind.PAGE)
              .values_list("user_id", flat=True))
    if incident.assigned_to_id:
        ids.add(incident.assigned_to_id)
    return User.objects.filter(pk__in=ids, is_active=True)


def queue_notices(incident, kind, actor):
    """Opt-in notices "#4711 accepted by Ana" to the users paged for (or assigned) the incident."""
    field = {"accepted": "notify_on_accept", "resolved": "notify_on_resolve"}[kind]
    wanting = set(NotificationSettings.objects.filter(**{field: True}, user__in=_paged_users(incident))
                  .values_list("user_id", flat=True))
    who = actor.display_name if actor is not None else "an integration"
    for user in User.objects.filter(pk__in=wanting).select_related("tenant"):
        if actor is not None and user.pk == actor.pk:
            continue
        queue_message(
            user, kind=Notification.Kind.NOTICE, incident=incident,
            dedup_key=key("notice", incident.pk, user.pk, kind),
            subject=f"[ilert] #{incident.number} {kind} by {who}",
            body=f"#{incident.number} {kind} by {who}: {incident.summary}",
        )
