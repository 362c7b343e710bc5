"""Subscribers: visitors by email (double opt-in), webhooks (signed the Standard Webhooks way) and
members of the organisation following services from their profile."""

from datetime import timedelta

from django.core.validators import validate_email
from django.db import transaction

from connectors import signing
from ilert import clock, netguard, secrets
from ilert.errors import DomainError

from .. import notices
from ..access import mail_limited
from ..models import Subscriber
from .checks import may_write, same_tenant


def subscribe_email(page, email, *, services=()):
    """A visitor asks for email notices: an unconfirmed subscriber and a confirmation email (double
    opt-in). Asking again resends the confirmation; a confirmed address is left as it is (the answer
    is the same either way, so nobody learns who is subscribed)."""
    email = (email or "").strip().lower()

    try:
        validate_email(email)
    except Exception:
        raise DomainError("Enter a valid email address.", field="email") from None
    services = list(services)
    same_tenant(page.tenant, services, "services")
    shown = set(page.services.values_list("pk", flat=True))
    if any(s.pk not in shown for s in services):
        raise DomainError("Choose services shown on this page.", field="services")
    with transaction.atomic():
        subscriber, created = Subscriber.objects.get_or_create(
            page=page, email=email, kind=Subscriber.Kind.EMAIL, defaults={"tenant": page.tenant})
        if subscriber.confirmed_at is not None:
            return subscriber
        subscriber.services.set(services)
        now = clock.now()
        if subscriber.confirmation_sent_at and now - subscriber.confirmation_sent_at < timedelta(minutes=10):
            return subscriber  # one confirmation per 10 minutes: the form cannot flood an address
        if mail_limited(email):
            return subscriber  # nor many pages at once (the answer is the same: nothing is probed)
        subscriber.confirmation_sent_at = now
        subscriber.save(update_fields=["confirmation_sent_at"])
        notices.confirm(subscriber)
    return subscriber


def confirm_subscriber(subscriber, *, now=None):
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = now or clock.now()
        subscriber.save(update_fields=["confirmed_at"])
    return subscriber


def unsubscribe(subscriber):
    subscriber.delete()


def subscribe_webhook(page, url, *, services=(), by=None):
    """A webhook subscriber, signed the Standard Webhooks way. Returns (subscriber, secret shown once)."""
    may_write(by)
    try:
        netguard.check_url(url)
    except netguard.BlockedTarget as exc:
        raise DomainError(str(exc), field="url") from None
    services = list(services)
    same_tenant(page.tenant, services, "services")
    secret = signing.new_secret()
    subscriber = Subscriber.objects.create(tenant=page.tenant, page=page, kind=Subscriber.Kind.WEBHOOK, url=url,
                                           secret_encrypted=secrets.encrypt(secret), confirmed_at=clock.now())
    subscriber.services.set(services)
    return subscriber, secret


def subscribe_member(user, services):
    """A member of the organisation follows services from their profile (no opt-in: it is their account)."""
    services = list(services)
    same_tenant(user.tenant, services, "services")
    subscriber, _ = Subscriber.objects.get_or_create(
        user=user, defaults={"tenant": user.tenant, "email": user.email, "confirmed_at": clock.now()})
    if not services:
        subscriber.delete()
        return None
    subscriber.email = user.email
    subscriber.save(update_fields=["email"])
    subscriber.services.set(services)
    return subscriber
