"""Every change to tenants, users, teams and API keys."""

import hmac
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email as _validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import slugify

from ilert import clock
from ilert.devoutbox import EmailNotConfigured, mark_account_message
from ilert.errors import Conflict, DomainError
from ilert.secrets import lookup_hash

from .models import ApiKey, Role, Team, Tenant, User, validate_time_zone

log = logging.getLogger(__name__)

API_KEY_PREFIX = "ilk_"


def _check(validator, value, field):
    try:
        validator(value)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field=field) from None


def _check_password(password, user=None):
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password") from None


def _unique_slug(name):
    base = slugify(name)[:50] or "team"
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def create_tenant(name, *, admin_email, admin_name="", password=None, timezone="UTC"):
    """A new organisation with its first admin. Fails if the tenant name or the email is taken."""
    name = (name or "").strip()
    if not name:
        raise DomainError("A name is required.", field="name")
    if len(name) > 120:
        raise DomainError("At most 120 characters.", field="name")
    _check(validate_time_zone, timezone, "timezone")
    email = User.objects.normalize_email(admin_email or "").lower()
    if Tenant.objects.filter(name__iexact=name).exists():
        raise Conflict(f"An organisation named {name!r} already exists.", field="name")
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(f"A user with the email {email} already exists.", field="email")
    _check(_validate_email, email, "email")
    if password is not None:
        _check_password(password, User(email=email, name=admin_name))
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(name=name, slug=_unique_slug(name), timezone=timezone)
    except IntegrityError:  # a concurrent sign-up took the name (or the slug) first
        raise Conflict(f"An organisation named {name!r} already exists.", field="name") from None
    try:
        with transaction.atomic():
            admin = User.objects.create_user(
                email, password, tenant=tenant, name=admin_name, role=Role.ADMIN
            )
    except IntegrityError:
        raise Conflict(f"A user with the email {email} already exists.", field="email") from None
    return tenant, admin


# --- users -------------------------------------------------------------------------------------


def invite_user(tenant, *, email, name="", role=Role.RESPONDER, invited_by=None):
    """Create a user who sets their own password through a signed, expiring link sent by email."""
    email = User.objects.normalize_email(email or "").lower()
    _check(_validate_email, email, "email")
    if role not in Role.values:
        raise DomainError(f"Role must be one of {', '.join(Role.values)}.", field="role")
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exists():
            raise Conflict(f"A user with the email {email} already exists.", field="email")
        user = User.objects.create_user(email, None, tenant=tenant, name=name.strip(), role=role)
    send_invitation(user, invited_by=invited_by)
    return user


def invitation_token(user):
    # The token carries the password hash state: once a password is set, the link stops working.
    return signing.dumps({"u": user.pk, "p": user.password[-16:]}, salt="accounts.invitation")


def invitation_url(user):
    return settings.SITE_URL + reverse("accept-invitation", args=[invitation_token(user)])


def user_for_invitation(token):
    """The invited user the token names, or None if it is forged, expired or already used."""
    try:
        data = signing.loads(token, salt="accounts.invitation", max_age=settings.INVITATION_MAX_AGE)
    except signing.BadSignature:
        return None
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    if user is None or user.has_usable_password() or user.password[-16:] != data.get("p"):
        return None
    return user


def accept_invitation(user, password):
    _check_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def send_invitation(user, *, invited_by=None):
    context = {
        "user": user,
        "tenant": user.tenant,
        "invited_by": invited_by,
        "url": invitation_url(user),
        "days": settings.INVITATION_MAX_AGE // 86400,
    }
    subject = f"You are invited to {user.tenant.name} on ilert"
    message = EmailMultiAlternatives(
        subject, render_to_string("emails/invitation.txt", context), to=[user.email]
    )
    message.attach_alternative(render_to_string("emails/invitation.html", context), "text/html")
    mark_account_message(message, user)
    try:
        message.send()
    except EmailNotConfigured:  # said at start, on /readyz and to admins on every page
        log.error("invitation to %s not sent: no email provider is configured", user.email)
        return False
    return True


@transaction.atomic
def update_user(user, *, by, **fields):
    """Change name, role or time zone. Only admins change roles; the last admin keeps theirs."""
    allowed = {"name", "role", "timezone", "email"}
    unknown = set(fields) - allowed
    if unknown:
        raise DomainError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    if "role" in fields and fields["role"] != user.role:
        if not by.is_admin:
            raise DomainError("Only admins can change roles.", field="role", status=403, code="forbidden")
        if fields["role"] not in Role.values:
            raise DomainError(f"Role must be one of {', '.join(Role.values)}.", field="role")
        if user.role == Role.ADMIN:
            _keep_an_admin(user)
    if fields.get("timezone"):
        _check(validate_time_zone, fields["timezone"], "timezone")
    if "email" in fields:
        email = User.objects.normalize_email(fields["email"]).lower()
        _check(_validate_email, email, "email")
        if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
            raise Conflict(f"A user with the email {email} already exists.", field="email")
        fields["email"] = email
    for key, value in fields.items():
        setattr(user, key, value)
    user.save()
    return user


def _keep_an_admin(user):
    # Lock the tenant's admins first: two admins demoting each other at once must not both succeed.
    admins = list(User.objects.select_for_update().filter(tenant=user.tenant, role=Role.ADMIN, is_active=True))
    if not [admin for admin in admins if admin.pk != user.pk]:
        raise Conflict("The organisation needs at least one active admin.")


@transaction.atomic
def deactivate_user(user, *, by):
    """Users are deactivated, not deleted, so incident history keeps its names."""
    if user.pk == by.pk:
        raise Conflict("You cannot deactivate yourself.")
    if user.role == Role.ADMIN:
        _keep_an_admin(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    ApiKey.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=clock.now())
    return user


# --- teams -------------------------------------------------------------------------------------


def _check_members(tenant, members):
    for member in members:
        if member.tenant_id != tenant.pk:
            raise DomainError("Unknown user.", field="members")


@transaction.atomic
def create_team(tenant, *, name, description="", members=()):
    name = name.strip()
    if Team.objects.filter(tenant=tenant, name__iexact=name).exists():
        raise Conflict(f"A team named {name!r} already exists.", field="name")
    _check_members(tenant, members)
    team = Team.objects.create(tenant=tenant, name=name, description=description)
    team.members.set(members)
    return team


@transaction.atomic
def update_team(team, *, name=None, description=None, members=None):
    if name is not None:
        name = name.strip()
        if Team.objects.filter(tenant=team.tenant, name__iexact=name).exclude(pk=team.pk).exists():
            raise Conflict(f"A team named {name!r} already exists.", field="name")
        team.name = name
    if description is not None:
        team.description = description
    team.save()
    if members is not None:
        _check_members(team.tenant, members)
        team.members.set(members)
    return team


def delete_team(team):
    team.delete()


# --- API keys ----------------------------------------------------------------------------------


def create_api_key(user, *, name):
    """A new key for `user`. Returns (key, secret); the secret is never available again."""
    if not user.can_write:
        raise DomainError("Stakeholders cannot create API keys.", status=403, code="forbidden")
    name = (name or "").strip()
    if not name:
        raise DomainError("A name is required.", field="name")
    prefix = secrets.token_hex(6)
    secret = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        tenant=user.tenant, user=user, name=name[:120], prefix=prefix, secret_hash=lookup_hash(secret)
    )
    return key, secret


def revoke_api_key(key):
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        key.save(update_fields=["revoked_at"])
    return key


LAST_USED_GRANULARITY = timedelta(minutes=1)


def authenticate_api_key(raw):
    """The active key for a presented secret, or None. Records the last use (at most once a minute)."""
    if not raw or not raw.startswith(API_KEY_PREFIX) or len(raw) > 200:
        return None
    prefix = raw[len(API_KEY_PREFIX) : len(API_KEY_PREFIX) + 12]
    key = ApiKey.objects.select_related("user", "user__tenant").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.secret_hash, lookup_hash(raw)):
        return None
    if key.revoked_at is not None or not key.user.is_active:
        return None
    now = clock.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def update_tenant(tenant, *, name, timezone):
    name = name.strip()
    if Tenant.objects.filter(name__iexact=name).exclude(pk=tenant.pk).exists():
        raise Conflict(f"An organisation named {name!r} already exists.", field="name")
    _check(validate_time_zone, timezone, "timezone")
    tenant.name, tenant.timezone = name, timezone
    tenant.save(update_fields=["name", "timezone"])
    return tenant
