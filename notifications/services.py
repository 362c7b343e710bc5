"""Every change to contact methods, notification rules, settings and the notification outbox.

The escalation engine's door is `notify(incident, user, round_tag=…)`: it writes outbox rows inside
the caller's transaction (no I/O) and kicks the dispatch task after commit. Pages stop when the
incident is accepted or resolved (`cancel_pending`, run by the incident_changed receiver).
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from accounts.models import User
from alerts import services as alert_services
from alerts.models import Incident, LogKind, Priority
from ilert import bulk, clock, kick, netguard, ratelimit
from ilert import secrets as ilert_secrets
from ilert.errors import Conflict, DomainError, Forbidden

from . import text, tokens
from .models import (
    Channel,
    ContactMethod,
    Notification,
    NotificationRule,
    NotificationSettings,
    ReplyCodeFloor,
    ReplyCodeRelease,
    new_tokens,
)

MAX_DELAY_MINUTES = 24 * 60
CODE_TTL = timedelta(minutes=15)
CODE_ATTEMPTS = 5
# Verification codes and links cost money (SMS, calls) and land on somebody's phone: limited per
# contact method, per destination address across all organisations (deleting and re-adding a
# method must not reset it), and per organisation.
VERIFICATION_LIMIT = "5/hour"
VERIFICATION_ADDRESS_LIMIT = "5/hour"
VERIFICATION_TENANT_LIMIT = "30/hour"
CHANNEL_WORDS = {"email": "email", "sms": "SMS", "voice": "call", "push": "push", "webpush": "web push"}


# --- who may change whose settings ---------------------------------------------------------------


def can_manage(actor, user):
    """A user edits their own contact methods and rules; admins may edit anyone's in the tenant."""
    if actor is None or not actor.is_active or actor.tenant_id != user.tenant_id or not actor.can_write:
        return False
    return actor.pk == user.pk or actor.is_admin


def check_can_manage(actor, user):
    if not can_manage(actor, user):
        raise Forbidden("You may only change your own notification settings.")


# --- contact methods -------------------------------------------------------------------------------


def _clean_address(kind, address):
    if kind == Channel.EMAIL:
        address = (address or "").strip().lower()
        try:
            validate_email(address)
        except ValidationError:
            raise DomainError("Enter a valid email address.", field="address") from None
        return address
    if kind in (Channel.SMS, Channel.VOICE):
        return text.parse_phone(address)
    address = (address or "").strip()
    if not address or len(address) > 1024 or any(c.isspace() for c in address):
        raise DomainError("A Firebase registration token is required.", field="address")
    return address


def add_contact_method(user, *, kind, address, platform="", device_name="", by=None, send_code=True):
    """A new contact method. Push devices registered by the user's own credentials are verified at
    once; the account's own email address too; phones get a code, other emails a link."""
    if by is not None:
        check_can_manage(by, user)
    if kind not in Channel.values:
        raise DomainError(f"Must be one of {', '.join(Channel.values)}.", field="kind")
    if kind == Channel.WEBPUSH:
        raise DomainError("A browser is added from its own profile page: \"Enable push on this device\".",
                          field="kind")
    address = _clean_address(kind, address)
    if kind == Channel.PUSH:
        if platform not in ContactMethod.Platform.values:
            raise DomainError("Must be ios or android.", field="platform")
    else:
        platform = ""
    now = clock.now()
    verified = kind == Channel.PUSH or (kind == Channel.EMAIL and address == user.email.lower())
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


# --- Web Push subscriptions (a browser that enabled push: docs/push.md) ----------------------------


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


def subscribe_webpush(user, *, endpoint, p256dh, auth, device_name="", by):
    """The browser `by` is using subscribed to push: it becomes (or refreshes) a Web Push contact
    method of `by` — always the user's own browser, never someone else's. One contact method per
    endpoint: an endpoint another user registered is refused (that browser pages them until they
    remove it). Returns (method, created)."""
    from .channels.webpush import check_endpoint

    if by is None or by.pk != user.pk:
        raise Forbidden("A browser can only enable push for the user signed in on it.")
    check_can_manage(by, user)
    endpoint = str(endpoint or "").strip()
    if not endpoint or len(endpoint) > 1024 or any(c.isspace() for c in endpoint):
        raise DomainError("The subscription has no valid endpoint.", field="endpoint")
    try:
        check_endpoint(endpoint)
    except netguard.BlockedTarget as exc:
        raise DomainError(str(exc), field="endpoint") from None
    p256dh = _b64url_bytes(p256dh, "keys.p256dh", 65)
    auth = _b64url_bytes(auth, "keys.auth", 16)
    try:  # a point on P-256, or encryption for it would fail at every page
        point = base64.urlsafe_b64decode(p256dh + "=" * (-len(p256dh) % 4))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise DomainError("Not a P-256 public key.", field="keys.p256dh") from None
    name = " ".join(str(device_name or "").split())[:120] or "This browser"
    keys = ilert_secrets.encrypt(json.dumps({"p256dh": p256dh, "auth": auth}))
    now = clock.now()
    with transaction.atomic():
        existing = ContactMethod.objects.select_for_update().filter(kind=Channel.WEBPUSH, address=endpoint).first()
        if existing is not None:
            if existing.user_id != user.pk:
                raise Conflict("This browser already receives push for another user; they must remove it from "
                               "their profile first.", field="endpoint")
            existing.push_keys_encrypted, existing.device_name = keys, name
            existing.disabled_reason = ""
            existing.save(update_fields=["push_keys_encrypted", "device_name", "disabled_reason"])
            return existing, False
        try:
            with transaction.atomic():
                method = ContactMethod.objects.create(
                    tenant_id=user.tenant_id, user=user, kind=Channel.WEBPUSH, address=endpoint,
                    device_name=name, verified_at=now, push_keys_encrypted=keys)
        except IntegrityError:
            raise Conflict("This browser already receives push for another user.", field="endpoint") from None
    return method, True


def webpush_subscription_gone(notification, why, *, now=None):
    """The push service says a subscription is gone (404/410): remove it (the rules that used it go
    with it) and tell its user on their profile. Pages still queued for it fail when due and hand
    over to the next step at once."""
    from . import render
    from .models import ProfileNotice

    method = ContactMethod.objects.filter(kind=Channel.WEBPUSH, address=notification.address,
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


def _code_hash(method, code):
    key = (settings.SECRET_KEY + ":contact-code").encode()
    return hmac.new(key, f"{method.pk}:{method.address}:{code}".encode(), hashlib.sha256).hexdigest()


def send_verification(method, *, by=None):
    """Send a code (SMS, voice) or a link (email) through the outbox. Limited to 5 an hour."""
    if by is not None:
        check_can_manage(by, method.user)
    if method.is_verified:
        raise Conflict("This contact method is already verified.")
    if method.kind in (Channel.PUSH, Channel.WEBPUSH):
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
        if method.kind == Channel.EMAIL:
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
        _kick([notification.pk])
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
    method = ContactMethod.objects.filter(pk=data.get("c"), kind=Channel.EMAIL, address=data.get("a")).first()
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
    return ContactMethod.objects.filter(tenants, kind=Channel.SMS, address=number).update(opted_out=opted_out)


# --- rules ---------------------------------------------------------------------------------------


def add_rule(user, *, priority, contact_method, delay_minutes=0, by=None):
    if by is not None:
        check_can_manage(by, user)
    if priority not in Priority.values:
        raise DomainError("Must be HIGH or LOW.", field="priority")
    if contact_method is None or contact_method.user_id != user.pk:
        raise DomainError("Pick one of this user's contact methods.", field="contact_method")
    if delay_minutes is None or not 0 <= int(delay_minutes) <= MAX_DELAY_MINUTES:
        raise DomainError(f"Between 0 and {MAX_DELAY_MINUTES} minutes.", field="delay_minutes")
    try:
        with transaction.atomic():
            return NotificationRule.objects.create(
                tenant_id=user.tenant_id, user=user, priority=priority, contact_method=contact_method,
                delay_minutes=int(delay_minutes),
            )
    except IntegrityError:
        raise Conflict("This step already exists.", field="contact_method") from None


def update_rule(rule, *, by=None, **fields):
    if by is not None:
        check_can_manage(by, rule.user)
    if "priority" in fields and fields["priority"] not in Priority.values:
        raise DomainError("Must be HIGH or LOW.", field="priority")
    if "contact_method" in fields and (fields["contact_method"] is None
                                       or fields["contact_method"].user_id != rule.user_id):
        raise DomainError("Pick one of this user's contact methods.", field="contact_method")
    if "delay_minutes" in fields and not 0 <= int(fields["delay_minutes"]) <= MAX_DELAY_MINUTES:
        raise DomainError(f"Between 0 and {MAX_DELAY_MINUTES} minutes.", field="delay_minutes")
    for key, value in fields.items():
        setattr(rule, key, value)
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise Conflict("This step already exists.", field="contact_method") from None
    return rule


def delete_rule(rule, *, by=None):
    if by is not None:
        check_can_manage(by, rule.user)
    rule.delete()


def settings_for(user):
    found = NotificationSettings.objects.filter(user=user).first()
    return found or NotificationSettings(tenant_id=user.tenant_id, user=user)


def update_settings(user, *, by=None, **fields):
    if by is not None:
        check_can_manage(by, user)
    current = settings_for(user)
    if "reminder_minutes" in fields and not 5 <= int(fields["reminder_minutes"]) <= 24 * 60:
        raise DomainError("Between 5 and 1440 minutes.", field="reminder_minutes")
    method = fields.get("notice_contact_method")
    if method is not None and method.user_id != user.pk:
        raise DomainError("Pick one of this user's contact methods.", field="notice_contact_method")
    for key, value in fields.items():
        setattr(current, key, value)
    current.save()
    return current


# --- which steps page a user -----------------------------------------------------------------------


@dataclass
class Step:
    key: str
    channel: str
    address: str
    contact_method: ContactMethod | None
    delay: int


def _usable(user, kind=None, methods=None):
    if methods is None:
        methods = ContactMethod.objects.filter(user=user).order_by("created_at", "id")
    return [m for m in methods if m.usable and (kind is None or m.kind == kind)]


def default_steps(user, priority, methods=None):
    """No rules: email at 0 (a verified address, else the account's), plus SMS at 0 for HIGH when a
    verified phone exists."""
    emails = _usable(user, Channel.EMAIL, methods)
    if emails:
        steps = [Step(f"default:email:{emails[0].pk}", Channel.EMAIL, emails[0].address, emails[0], 0)]
    else:
        steps = [Step("default:email", Channel.EMAIL, user.email, None, 0)]
    if priority == Priority.HIGH:
        phones = _usable(user, Channel.SMS, methods)
        if phones:
            steps.append(Step(f"default:sms:{phones[0].pk}", Channel.SMS, phones[0].address, phones[0], 0))
    return steps


def steps_for(user, priority, *, rules=None, methods=None):
    """(steps, warning). A user's rules for the priority; unusable steps are skipped; no usable rule
    at all means the defaults (and a warning on the timeline). `rules` (all of the user's, ordered
    by delay) and `methods` may be given preloaded."""
    if rules is None:
        rules = NotificationRule.objects.filter(user=user).select_related("contact_method").order_by(
            "delay_minutes", "id")
    rules = [rule for rule in rules if rule.priority == priority]
    steps = [
        Step(f"rule:{rule.pk}", rule.contact_method.kind, rule.contact_method.address, rule.contact_method,
             rule.delay_minutes)
        for rule in rules if rule.contact_method.usable
    ]
    if steps:
        skipped = len(rules) - len(steps)
        warning = f"{skipped} of {user.display_name}'s steps skipped (contact method not verified)." if skipped else ""
        return steps, warning
    if rules:
        return default_steps(user, priority, methods), (
            f"None of {user.display_name}'s {priority} notification rules can be used (unverified or opted-out "
            "contact methods): using the defaults.")
    return default_steps(user, priority, methods), (
        f"{user.display_name} has no {priority} notification rules: using the defaults.")


# --- the outbox ------------------------------------------------------------------------------------


def _key(*parts):
    key = ":".join(str(p) for p in parts)
    return key if len(key) <= 255 else key[:190] + ":" + hashlib.sha256(key.encode()).hexdigest()


REPLY_CODE_LOCK = 0x7265706C  # the advisory-lock namespace of reply codes ("repl"); the user id is the key


def _reply_codes(pairs):
    """{(user id, incident id): code} — a short number per (user, incident): 'Reply 3a'. Reused for
    the same incident; otherwise the smallest number not taken by the user's other open incidents.

    Transactions paging the same user take turns, from this search to their commit (a transaction
    advisory lock per user on PostgreSQL, taken in user order; SQLite has one writer at a time):
    otherwise concurrent batches of a storm, each blind to the other's uncommitted codes, hand out
    the same numbers (seen: 3,000 distinct codes for 10,000 open incidents).

    The search starts at the user's ReplyCodeFloor, or lower at a code released since, and the
    database returns only the gaps between the codes taken above that: a storm that pages one user
    thousands of times reads none of them. Where the search starts only decides how small the codes
    are; it never makes two open incidents share one."""
    _take_turns({u for u, _ in pairs})
    codes = _codes_held(pairs)
    wanted = {}
    for pair in sorted(pairs):
        if pair not in codes:
            wanted.setdefault(pair[0], []).append(pair)
    if not wanted:
        return codes
    floors = dict(ReplyCodeFloor.objects.filter(user_id__in=wanted).values_list("user_id", "lowest"))
    lowest = {user_id: floors.get(user_id, 1) for user_id in wanted}
    released = list(ReplyCodeRelease.objects.filter(user_id__in=wanted).values_list("pk", "user_id", "code"))
    for _, user_id, code in released:
        lowest[user_id] = min(lowest[user_id], code)
    gaps = _gaps(lowest)
    raised = {}
    for user_id, mine in wanted.items():
        free = _free(gaps[user_id])
        for pair in mine:
            codes[pair] = next(free)
        raised[user_id] = next(free)  # every code below it is taken now
    _store_floors(raised, floors)
    ReplyCodeRelease.objects.filter(pk__in=[pk for pk, _, _ in released]).delete()
    return codes


def _take_turns(user_ids):
    """The reply-code lock of these users, until commit (in user order: no two transactions wait on
    each other in a circle)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for user_id in sorted(user_ids):
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [REPLY_CODE_LOCK, user_id])


def _codes_held(pairs):
    """The codes the pairs already have (a user paged again for the same incident keeps its code).
    Looked up by incident only: the (incident, user) index, whatever the planner thinks of a busy user."""
    return {
        (u, i): code for u, i, code in Notification.objects.filter(
            incident_id__in={i for _, i in pairs}, reply_code__isnull=False,
        ).order_by().values_list("user_id", "incident_id", "reply_code")
        if (u, i) in pairs
    }


def _gaps(lowest):
    """{user id: [(last taken, next taken or None)]}, in order, for the codes of the user's open
    incidents from lowest[user] on (lowest - 1 counts as taken). One range scan of the
    (user, reply_code) index per user, its bounds written in: a join with a list of floors let the
    planner read the user's whole range."""
    table, incidents = Notification._meta.db_table, Incident._meta.db_table
    statuses = ", ".join(["%s"] * len(Incident.OPEN))
    # Identifiers come from the models; every value is a parameter.
    per_user = f"""
        SELECT n.user_id AS user_id, n.reply_code AS taken FROM {table} n JOIN {incidents} i ON i.id = n.incident_id
         WHERE n.user_id = %s AND n.reply_code IS NOT NULL AND n.reply_code >= %s AND i.status IN ({statuses})
        UNION ALL SELECT %s, %s"""  # noqa: S608
    sql = f"""
        SELECT user_id, taken, after FROM (
            SELECT user_id, taken, LEAD(taken) OVER (PARTITION BY user_id ORDER BY taken) AS after
              FROM ({" UNION ALL ".join([per_user] * len(lowest))}) AS taken
        ) runs WHERE after IS NULL OR after > taken + 1 ORDER BY user_id, taken"""  # noqa: S608
    params = []
    for user_id, start in lowest.items():
        params += [user_id, start, *Incident.OPEN, user_id, start - 1]
    gaps = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for user_id, taken, after in cursor.fetchall():
            gaps.setdefault(user_id, []).append((taken, after))
    return gaps


def _store_floors(raised, floors):
    """Where each user's next search starts (under their reply-code lock: nobody else writes it)."""
    tenants = dict(User.objects.filter(pk__in=[u for u in raised if u not in floors]).values_list("pk", "tenant_id"))
    ReplyCodeFloor.objects.bulk_create([ReplyCodeFloor(user_id=user_id, tenant_id=tenant_id, lowest=raised[user_id])
                                        for user_id, tenant_id in tenants.items()])
    for user_id in floors:
        ReplyCodeFloor.objects.filter(user_id=user_id).update(lowest=raised[user_id])


def release_reply_codes(incident):
    """An incident that closed frees its codes: each holder's next search starts no higher. Only
    inserts (it never waits for a search in progress, which holds the floor until it commits)."""
    held = (Notification.objects.filter(incident=incident, reply_code__isnull=False).order_by()
            .values_list("user_id", "reply_code").distinct())
    ReplyCodeRelease.objects.bulk_create([ReplyCodeRelease(tenant_id=incident.tenant_id, user_id=user_id, code=code)
                                          for user_id, code in held])


def _free(gaps):
    """The free numbers, smallest first, from [(last taken, next taken or None)]."""
    for taken, after in gaps:
        code = taken + 1
        while after is None or code < after:
            yield code
            code += 1


def _describe(steps):
    parts = []
    for step in steps:
        when = "now" if step.delay == 0 else f"after {step.delay} min"
        parts.append(f"{CHANNEL_WORDS[step.channel]} {when}")
    return ", ".join(parts)


def notify(incident, user, *, round_tag: str, reason: str = "") -> list[Notification]:
    """Page `user` about `incident` by each step of their rules for its priority (or the defaults).

    Writes outbox rows in the caller's transaction — no I/O — and kicks dispatch after commit. Rows
    are unique per (incident, user, rule step, round_tag): calling again with the same round_tag
    pages nobody twice (two escalation levels in one round naming the same user → one page).
    Returns the rows it created ([] when everything was already there).
    """
    pks = notify_many([(incident, user, round_tag, reason)])
    return list(Notification.objects.filter(pk__in=pks).order_by("pk"))


def notify_many(requests) -> list[int]:
    """`notify` for many (incident, user, round_tag, reason) at once, with a constant number of
    queries (the escalation engine pages a whole batch of incidents this way). Returns the ids of
    the rows it created."""
    with transaction.atomic():  # all or none (a savepoint inside the caller's transaction)
        return _notify_many(requests)


def _notify_many(requests):
    requests = [(i, u, r, why) for i, u, r, why in requests
                if u.tenant_id == i.tenant_id and u.is_active and i.is_open]
    if not requests:
        return []
    user_ids = {u.pk for _, u, _, _ in requests}
    rules, methods = {}, {}
    for rule in (NotificationRule.objects.filter(user_id__in=user_ids).select_related("contact_method")
                 .order_by("delay_minutes", "id")):
        rules.setdefault(rule.user_id, []).append(rule)
    for method in ContactMethod.objects.filter(user_id__in=user_ids).order_by("created_at", "id"):
        methods.setdefault(method.user_id, []).append(method)

    # What a page looks like depends on (user, priority, round, reason) only: worked out once per such
    # group, so a storm of thousands of incidents costs one plan and a key per row (docs/architecture.md §4).
    now = clock.now()
    plans, groups, rows = {}, {}, []
    for incident, user, round_tag, reason in requests:
        plan_key = (user.pk, incident.priority, round_tag, reason)
        plan = plans.get(plan_key)
        if plan is None:
            plan = plans[plan_key] = _Plan.make(user, incident.priority, round_tag, reason, now,
                                                rules.get(user.pk, []), methods.get(user.pk, []))
        key = (incident.pk, user.pk, plan_key)
        if key in groups:  # asked twice in one call: once is enough
            continue
        mine = []
        groups[key] = (incident, plan, mine)
        for template in plan.rows:
            row = template.copy()
            row["tenant_id"], row["incident_id"] = incident.tenant_id, incident.pk
            row["dedup_key"] = _key("page", incident.pk, user.pk, row["step"], round_tag)
            mine.append(row)
            rows.append(row)
    # Reply codes are what an SMS page asks to answer with ("Reply 3a"): only pages with an SMS step
    # need one (every row of the pair gets it, so a later SMS step or round says the same code).
    texted = {(user_id, incident_id) for (incident_id, user_id, _), (_, plan, _) in groups.items() if plan.texts}
    codes = _reply_codes(texted) if texted else {}
    for (incident_id, user_id, _), (_, _, mine) in groups.items():
        for row in mine:
            row["reply_code"] = codes.get((user_id, incident_id))
    for row, token in zip(rows, new_tokens(len(rows)), strict=True):
        row["token"] = token
    # One INSERT; a row already written (by an earlier call, or a concurrent twin that commits) is
    # skipped, so nobody is paged twice for the same step.
    for row, pk in zip(rows, bulk.insert(Notification, rows, skip_existing="dedup_key"), strict=True):
        row["id"] = pk
    entries = []
    for incident, plan, mine in groups.values():
        written = [row for row in mine if row["id"] is not None]
        if written:
            entries.append((incident, LogKind.NOTIFICATION, plan.message(written), "notifications",
                            {**plan.data, "notifications": [row["id"] for row in written]}, None))
    alert_services.log_many(entries)
    _kick([row["id"] for row in rows if row["id"] is not None and row["due_at"] <= now])
    return [row["id"] for row in rows if row["id"] is not None]


@dataclass
class _Plan:
    """The outbox rows (less what differs per incident) and the timeline text of one kind of page."""

    rows: list
    steps: list
    headline: str  # "Paging Rita"
    tail: str  # " (escalation level 1: direct)", and a warning if any
    data: dict
    texts: bool  # an SMS among the steps
    everything: str = ""  # the text when every step was written (most of the time: built once)

    @classmethod
    def make(cls, user, priority, round_tag, reason, now, rules, methods):
        steps, warning = steps_for(user, priority, rules=rules, methods=methods)
        rows = [{"kind": Notification.Kind.PAGE, "user_id": user.pk,
                 "contact_method_id": step.contact_method.pk if step.contact_method else None,
                 "channel": step.channel, "address": step.address, "step": step.key, "step_delay": step.delay,
                 "round_tag": round_tag[:64], "reason": (reason or "")[:255],
                 "due_at": now + timedelta(minutes=step.delay)} for step in steps]
        tail = f" ({reason})" if reason else ""
        data = {"user": user.pk, "round": round_tag}
        if warning:  # e.g. no rules: said in the same entry (one row per page in a storm)
            tail += f". ⚠ {warning}"
            data["warning"] = warning
        plan = cls(rows, steps, f"Paging {user.display_name}", tail, data,
                   texts=any(step.channel == Channel.SMS for step in steps))
        plan.everything = plan._text(steps)
        return plan

    def message(self, written):
        """What the timeline says for the rows written (not those that existed already)."""
        if len(written) == len(self.rows):
            return self.everything
        keys = {row["step"] for row in written}
        return self._text([step for step in self.steps if step.key in keys])

    def _text(self, steps):
        return f"{self.headline}: {_describe(steps)}{self.tail}"


def _kick(ids):
    if ids:
        from . import tasks

        kick.after_commit(tasks.send, ids)


def cancel_pending(incident, reason):
    """Cancel every page of the incident that has not gone out yet. Returns how many."""
    count = Notification.objects.filter(
        incident=incident, kind=Notification.Kind.PAGE, status=Notification.Status.PENDING
    ).update(status=Notification.Status.CANCELLED, error=f"cancelled: {reason}"[:500])
    if count:
        alert_services.log(incident, LogKind.NOTIFICATION,
                           f"{count} pending notification{'s' if count != 1 else ''} cancelled: {reason}",
                           via="notifications")
    return count


def notice_target(user):
    """Where a user's notices and reminders go: their choice, else a push device, else email."""
    chosen = settings_for(user).notice_contact_method
    if chosen is not None and chosen.usable:
        return chosen.kind, chosen.address, chosen
    for method in _usable(user, Channel.PUSH) + _usable(user, Channel.WEBPUSH) + _usable(user, Channel.EMAIL):
        return method.kind, method.address, method
    return Channel.EMAIL, user.email, None


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
    _kick([notification.pk])
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
            dedup_key=_key("notice", incident.pk, user.pk, kind),
            subject=f"[ilert] #{incident.number} {kind} by {who}",
            body=f"#{incident.number} {kind} by {who}: {incident.summary}",
        )


def on_incident_changed(sender, changes, **kwargs):
    """alerts.events.incident_changed receiver (inside the changing transaction: rows only)."""
    for change in changes:
        if change.kind in ("accepted", "resolved"):
            who = change.actor.display_name if change.actor is not None else (change.via or "an integration")
            cancel_pending(change.incident, f"{change.kind} by {who}")
            queue_notices(change.incident, change.kind, change.actor)
        if change.kind == "resolved":
            release_reply_codes(change.incident)


# --- provider credentials ----------------------------------------------------------------------------

SID_TAKEN = "This Twilio account is already connected to ilert and cannot be added here."


def save_provider_settings(tenant, *, by, twilio_account_sid=None, twilio_auth_token=None, twilio_from_number=None,
                           firebase_credentials=None, clear_twilio=False, clear_firebase=False):
    """A tenant's own Twilio / Firebase credentials (admins only). Secrets are write-only."""
    import json

    from . import providers, twilio_ownership

    if by is None or not by.is_admin or by.tenant_id != tenant.pk:
        raise Forbidden("Only admins change provider settings.")
    sid = (twilio_account_sid or "").strip()
    if sid and not (sid.startswith("AC") and len(sid) == 34):
        raise DomainError("A Twilio Account SID starts with AC and has 34 characters.", field="twilio_account_sid")
    # An account belongs to the platform or to one organisation: its webhooks are checked with that
    # one auth token and reach only the organisations it serves (views.twilio_sms).
    if providers.sid_taken(tenant, sid):
        raise Conflict(SID_TAKEN, field="twilio_account_sid")
    if twilio_from_number:
        twilio_from_number = text.parse_phone(twilio_from_number, field="twilio_from_number")
    # Proven with Twilio before anything is stored (outside the transaction: an HTTP call).
    twilio_ownership.verify_provider_change(tenant, account_sid=twilio_account_sid, auth_token=twilio_auth_token,
                                            from_number=twilio_from_number, clear=clear_twilio)
    if firebase_credentials:
        try:
            info = json.loads(firebase_credentials)
        except ValueError:
            raise DomainError("Paste the service-account JSON file.", field="firebase_credentials") from None
        if not isinstance(info, dict) or info.get("type") != "service_account" or not all(
                info.get(k) for k in ("project_id", "private_key", "client_email")):
            raise DomainError("A service-account JSON with project_id, private_key and client_email is needed.",
                              field="firebase_credentials")
    try:
        with transaction.atomic():
            saved = providers.save_settings(
                tenant, twilio_account_sid=twilio_account_sid, twilio_auth_token=twilio_auth_token,
                twilio_from_number=twilio_from_number, firebase_credentials=firebase_credentials,
                clear_twilio=clear_twilio, clear_firebase=clear_firebase,
            )
            partial = [saved.twilio_account_sid, saved.twilio_auth_token_encrypted, saved.twilio_from_number]
            if any(partial) and not all(partial):
                raise DomainError("Twilio needs the Account SID, the auth token and a number.",
                                  field="twilio_account_sid")
    except IntegrityError:  # another organisation saved the same SID at the same instant
        raise Conflict(SID_TAKEN, field="twilio_account_sid") from None
    providers.reset_caches()
    return saved
