"""Contact methods: add, change, remove, verify (a code or a link, rate-limited), STOP / START.
What a channel accepts as an address, and how it is verified, is the channel's own
(channels/<name>.py: clean_address, verification)."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from ilert import clock, ratelimit
from ilert.errors import Conflict, DomainError

from .. import channels, tokens
from ..models import ContactMethod, Notification
from .access import check_can_manage
from .outbox import kick

CODE_TTL = timedelta(minutes=15)
CODE_ATTEMPTS = 5
# Verification codes and links cost money (SMS, calls) and land on somebody's phone: limited per
# contact method, per destination address across all organisations (deleting and re-adding a
# method must not reset it), and per organisation.
VERIFICATION_LIMIT = "5/hour"
VERIFICATION_ADDRESS_LIMIT = "5/hour"
VERIFICATION_TENANT_LIMIT = "30/hour"


def add_contact_method(user, *, kind, address, platform="", device_name="", by=None, send_code=True):
    """A new contact method. Push devices registered by the user's own credentials are verified at
    once; the account's own email address too; phones get a code, other emails a link."""
    if by is not None:
        check_can_manage(by, user)
    if kind not in channels.names():
        raise DomainError(f"Must be one of {', '.join(channels.names())}.", field="kind")
    channel = channels.get(kind)
    if channel.self_registered:
        raise DomainError("A browser is added from its own profile page: \"Enable push on this device\".",
                          field="kind")
    address = channel.clean_address(address)
    platform = channel.clean_platform(platform)
    now = clock.now()
    verified = not channel.verification or (channel.verification == "link" and address == user.email.lower())
    try:
        with transaction.atomic():
            method = ContactMethod.objects.create(
                tenant_id=user.tenant_id, user=user, kind=kind, address=address, platform=platform,
                device_name=(device_name or "").strip()[:120], verified_at=now if verified else None,
            )
    except IntegrityError:
        raise Conflict("This contact method already exists.", field="address") from None
    if not verified and send_code:
        send_verification(method)
    return method


def update_contact_method(method, *, by=None, **fields):
    if by is not None:
        check_can_manage(by, method.user)
    allowed = {"device_name", "throttle_max", "throttle_minutes", "bundle_seconds"}
    unknown = set(fields) - allowed
    if unknown:
        raise DomainError("Create a new contact method to change the address.", field=sorted(unknown)[0])
    if fields.get("throttle_max") is not None and not 0 <= fields["throttle_max"] <= 100:
        raise DomainError("Between 0 (no throttle) and 100.", field="throttle_max")
    if fields.get("throttle_minutes") is not None and not 1 <= fields["throttle_minutes"] <= 24 * 60:
        raise DomainError("Between 1 and 1440 minutes.", field="throttle_minutes")
    if fields.get("bundle_seconds") is not None and not 0 <= fields["bundle_seconds"] <= 3600:
        raise DomainError("Between 0 (never bundle) and 3600 seconds.", field="bundle_seconds")
    for key, value in fields.items():
        setattr(method, key, (value or "").strip()[:120] if key == "device_name" else value)
    method.save()
    return method


def delete_contact_method(method, *, by=None):
    if by is not None:
        check_can_manage(by, method.user)
    method.delete()



def _code_hash(method, code):
    key = (settings.SECRET_KEY + ":contact-code").encode()
    return hmac.new(key, f"{method.pk}:{method.address}:{code}".encode(), hashlib.sha256).hexdigest()


def send_verification(method, *, by=None):
    """Send a code (SMS, voice) or a link (email) through the outbox. Limited to 5 an hour."""
    if by is not None:
        check_can_manage(by, method.user)
    if method.is_verified:
        raise Conflict("This contact method is already verified.")
    verification = channels.get(method.kind).verification
    if not verification:
        raise DomainError("Push devices are verified when the app registers them.")
    checks = [(VERIFICATION_LIMIT, ("contact-verify", str(method.pk))),
              (VERIFICATION_ADDRESS_LIMIT, ("contact-verify-address", method.kind, method.address.lower())),
              (VERIFICATION_TENANT_LIMIT, ("contact-verify-tenant", str(method.tenant_id)))]
    wait = max(ratelimit.retry_after(limit, *keys) for limit, keys in checks)
    if not wait:
        for limit, keys in checks:
            ratelimit.hit(limit, *keys)
    if wait:
        raise DomainError(f"Too many codes sent; try again in {wait // 60 + 1} minutes.", code="rate_limited",
                          status=429)
    now = clock.now()
    with transaction.atomic():
        subject, body = "", ""
        if verification == "link":
            link = settings.SITE_URL + reverse("notifications:verify-email", args=[tokens.verify_email_token(method)])
            subject = "Confirm your email address for ilert"
            body = (f"Confirm that ilert may page you at {method.address}:\n{link}\n\n"
                    "The link is valid for 3 days. If you did not ask for this, ignore this email.")
            method.verification_hash = ""
        else:
            code = f"{secrets.randbelow(10**6):06d}"
            method.verification_hash = _code_hash(method, code)
            body = f"ilert verification code: {code}"
        method.verification_sent_at = now
        method.verification_attempts = 0
        method.save(update_fields=["verification_hash", "verification_sent_at", "verification_attempts"])
        notification = Notification.objects.create(
            tenant_id=method.tenant_id, kind=Notification.Kind.VERIFY, user=method.user, contact_method=method,
            channel=method.kind, address=method.address, step="verify", due_at=now, subject=subject, body=body,
            dedup_key=f"verify:{method.pk}:{secrets.token_hex(8)}",
        )
        kick([notification.pk])
    return notification


def confirm_code(method, code, *, by=None):
    if by is not None:
        check_can_manage(by, method.user)
    if method.is_verified:
        return method
    code = "".join(ch for ch in str(code or "") if ch.isdigit())
    with transaction.atomic():
        method = ContactMethod.objects.select_for_update().get(pk=method.pk)
        if not method.verification_hash or method.verification_sent_at is None:
            raise DomainError("Send a code first.", field="code")
        if clock.now() - method.verification_sent_at > CODE_TTL:
            raise DomainError("The code has expired; send a new one.", field="code")
        if method.verification_attempts >= CODE_ATTEMPTS:
            raise DomainError("Too many wrong codes; send a new one.", field="code")
        if not hmac.compare_digest(method.verification_hash, _code_hash(method, code)):
            method.verification_attempts += 1
            method.save(update_fields=["verification_attempts"])
            raise DomainError("That code is not right.", field="code")
        method.verified_at = clock.now()
        method.verification_hash = ""
        method.save(update_fields=["verified_at", "verification_hash"])
    return method


def verify_email(token):
    """Confirm an email contact method from the signed link; None when the link is bad or stale."""
    data = tokens.read_verify_email(token)
    if data is None:
        return None
    method = ContactMethod.objects.filter(pk=data.get("c"), kind=channels.EmailChannel.name,
                                          address=data.get("a")).first()
    if method is None:
        return None
    if method.verified_at is None:
        method.verified_at = clock.now()
        method.save(update_fields=["verified_at"])
    return method


def set_opted_out(number, opted_out, *, tenants):
    """STOP / START from a phone: no SMS to this number until it says START again — in the
    organisations `tenants` (a filter on tenant_id) names: those the Twilio account that received the
    answer serves (the carrier blocks per sending account), or the dev outbox's own."""
    can_opt_out = [channel.name for channel in channels.REGISTERED if channel.opt_out]
    return ContactMethod.objects.filter(tenants, kind__in=can_opt_out, address=number).update(opted_out=opted_out)

