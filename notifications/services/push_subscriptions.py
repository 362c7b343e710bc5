"""Web Push subscriptions: a browser that enabled push (docs/push.md) becomes its user's contact
method; one the push service dropped is removed and its user told."""

import base64
import binascii
import hmac
import json
import re
import secrets

from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction

from ilert import clock
from ilert import secrets as ilert_secrets
from ilert.errors import Conflict, DomainError, Forbidden

from .. import channels, render
from ..models import ContactMethod, Notification, ProfileNotice
from .access import check_can_manage
from .notices import queue_message

WEBPUSH = "webpush"  # channels/webpush.py



def _b64url_bytes(value, field, size):
    text = str(value or "").strip()
    if not text or len(text) > 200 or any(c not in _B64URL for c in text):
        raise DomainError("Must be base64url.", field=field)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise DomainError("Must be base64url.", field=field) from None
    if size is not None and len(raw) != size:
        raise DomainError(f"Must be {size} bytes.", field=field)
    return text.rstrip("=")


_B64URL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def _clean_subscription(endpoint, p256dh, auth):
    endpoint = channels.get(WEBPUSH).clean_address(endpoint)
    p256dh = _b64url_bytes(p256dh, "keys.p256dh", 65)
    auth = _b64url_bytes(auth, "keys.auth", 16)
    try:  # a point on P-256, or encryption for it would fail at every page
        point = base64.urlsafe_b64decode(p256dh + "=" * (-len(p256dh) % 4))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise DomainError("Not a P-256 public key.", field="keys.p256dh") from None
    return endpoint, ilert_secrets.encrypt(json.dumps({"p256dh": p256dh, "auth": auth}))


def _new_renewal_token(method):
    """A fresh renewal token for `method` (its hash stored, the token itself only answered once to
    the browser); any earlier one stops working."""
    token = secrets.token_urlsafe(32)
    method.push_renewal_hash = ilert_secrets.lookup_hash(token)
    return token


def subscribe_webpush(user, *, endpoint, p256dh, auth, device_name="", by):
    """The browser `by` is using subscribed to push: it becomes (or refreshes) a Web Push contact
    method of `by` — always the user's own browser, never someone else's. One contact method per
    endpoint: an endpoint another user registered is refused (that browser pages them until they
    remove it). Returns (method, created); `method.renewal_token` is the browser's token for
    renew_webpush."""
    if by is None or by.pk != user.pk:
        raise Forbidden("A browser can only enable push for the user signed in on it.")
    check_can_manage(by, user)
    endpoint, keys = _clean_subscription(endpoint, p256dh, auth)
    name = " ".join(str(device_name or "").split())[:120] or "This browser"
    now = clock.now()
    with transaction.atomic():
        existing = ContactMethod.objects.select_for_update().filter(kind=WEBPUSH, address=endpoint).first()
        if existing is not None:
            if existing.user_id != user.pk:
                raise Conflict("This browser already receives push for another user; they must remove it from "
                               "their profile first.", field="endpoint")
            existing.push_keys_encrypted, existing.device_name = keys, name
            existing.disabled_reason = ""
            existing.renewal_token = _new_renewal_token(existing)
            existing.save(update_fields=["push_keys_encrypted", "device_name", "disabled_reason",
                                         "push_renewal_hash"])
            return existing, False
        method = ContactMethod(tenant_id=user.tenant_id, user=user, kind=WEBPUSH, address=endpoint,
                               device_name=name, verified_at=now, push_keys_encrypted=keys)
        method.renewal_token = _new_renewal_token(method)
        try:
            with transaction.atomic():
                method.save()
        except IntegrityError:
            raise Conflict("This browser already receives push for another user.", field="endpoint") from None
    return method, True


def renew_webpush(*, old_endpoint, token, endpoint, p256dh, auth):
    """The push service replaced a browser's subscription (`pushsubscriptionchange`, in the service
    worker, with no session): move the contact method registered for `old_endpoint` to the new
    endpoint and keys, the same method (name, rules, user) as before. Authenticated by the old
    endpoint together with the renewal token the server gave that browser when it subscribed (or
    last renewed): both must match, the token is compared by its hash in constant time, and it is
    single use (a new one is answered). Returns (method, new token)."""
    refused = Forbidden("Unknown subscription or renewal token.")  # one answer: nothing to probe
    token = str(token or "")
    if not token or len(token) > 100 or not isinstance(old_endpoint, str) or len(old_endpoint) > 2000:
        raise refused
    endpoint, keys = _clean_subscription(endpoint, p256dh, auth)
    with transaction.atomic():
        method = (ContactMethod.objects.select_for_update().select_related("user")
                  .filter(kind=WEBPUSH, address=old_endpoint).first())
        if (method is None or not method.push_renewal_hash or not method.user.is_active
                or not hmac.compare_digest(method.push_renewal_hash, ilert_secrets.lookup_hash(token))):
            raise refused
        if endpoint != method.address and ContactMethod.objects.filter(kind=WEBPUSH, address=endpoint).exists():
            raise Conflict("This subscription already receives push for a user.", field="endpoint")
        method.address, method.push_keys_encrypted, method.disabled_reason = endpoint, keys, ""
        new_token = _new_renewal_token(method)
        method.save(update_fields=["address", "push_keys_encrypted", "disabled_reason", "push_renewal_hash"])
    return method, new_token


def webpush_subscription_gone(notification, why, *, now=None):
    """The push service says a subscription is gone (404/410): remove it (the rules that used it go
    with it) and tell its user on their profile. Pages still queued for it fail when due and hand
    over to the next step at once."""
    method = ContactMethod.objects.filter(kind=WEBPUSH, address=notification.address,
                                          user_id=notification.user_id).first()
    if method is None:
        return None
    now = now or clock.now()
    rules = [f"{rule.priority} after {rule.delay_minutes} min" if rule.delay_minutes else f"{rule.priority} at once"
             for rule in method.rules.order_by("priority", "delay_minutes")]
    steps = f" Its rule steps were removed too ({', '.join(rules)})." if rules else ""
    status = re.search(r"answered (\d{3})", why or "")
    answer = f"answered {status.group(1)}, " if status else ""
    when = render.local_time(method.user, now).strftime("%d %b %H:%M %Z")
    text = (f"Push to \"{method.display_address}\" stopped: its push service no longer knows the subscription "
            f"({answer}{when}), so it was removed.{steps} Open ilert in that browser and choose \"Enable push on "
            "this device\" to get pages there again.")
    with transaction.atomic():
        ProfileNotice.objects.create(tenant_id=method.tenant_id, user_id=method.user_id, text=text[:500])
        user, pk = method.user, method.pk
        method.delete()
        # Also said where their notices go (another device, else email): they may not open the profile soon.
        queue_message(user, kind=Notification.Kind.NOTICE, dedup_key=f"webpush-gone:{pk}",
                      subject=f"[ilert] Push to {method.display_address} stopped", body=text)
    return text


def dismiss_notice(notice, *, by):
    if by is None or by.pk != notice.user_id:
        raise Forbidden("Only its user dismisses a notice.")
    notice.delete()

