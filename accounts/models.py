"""Tenants, users, roles, teams and API keys."""

import zoneinfo
from functools import lru_cache

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone as dj_timezone

from ilert.tenancy import TenantOwned


@lru_cache(maxsize=1)
def _time_zones():
    return frozenset(zoneinfo.available_timezones())


def available_time_zones():
    """Every IANA zone name this system knows (for pickers and checks)."""
    return _time_zones()


def validate_time_zone(value):
    if value not in _time_zones():
        raise ValidationError(f"Unknown time zone {value!r}; use an IANA name such as Europe/Berlin.")


class Tenant(models.Model):
    name = models.CharField(max_length=120)  # unique whatever the case (Meta)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    created_at = models.DateTimeField(default=dj_timezone.now)
    # The one organisation of the platform's operators (Django superusers live here). Only
    # `createsuperuser` makes it; no sign-up, whatever its name, can become it.
    platform = models.BooleanField(default=False, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("name"), name="tenant_name_unique_ignoring_case"),
            models.UniqueConstraint(fields=["platform"], condition=models.Q(platform=True), name="one_platform_tenant"),
        ]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    RESPONDER = "responder", "Responder"
    STAKEHOLDER = "stakeholder", "Stakeholder (read-only)"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)  # None gives an unusable password until an invitation is accepted
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        fields.setdefault("role", Role.ADMIN)
        if "tenant" not in fields and "tenant_id" not in fields:
            fields["tenant"] = Tenant.objects.filter(platform=True).first() or _platform_tenant()
        return self.create_user(email, password, **fields)


def _platform_tenant():
    """The operators' organisation, under a name and slug no sign-up holds yet."""
    n = 1
    while Tenant.objects.filter(models.Q(name__iexact=f"Platform operators {n}")
                                | models.Q(slug=f"platform-operators-{n}")).exists():
        n += 1
    return Tenant.objects.create(name=f"Platform operators {n}", slug=f"platform-operators-{n}", platform=True)


class User(TenantOwned, AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=120, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RESPONDER)
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=dj_timezone.now)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        ordering = ["name", "email"]
        indexes = [models.Index(fields=["tenant", "role"])]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self):
        return self.name or self.email

    @property
    def is_admin(self):
        return self.role == Role.ADMIN

    @property
    def can_write(self):
        return self.role != Role.STAKEHOLDER

    @property
    def invitation_pending(self):
        return not self.has_usable_password()


class Team(TenantOwned):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    members = models.ManyToManyField(User, related_name="teams", blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="team_name_unique_per_tenant")]

    def __str__(self):
        return self.name


class ApiKey(TenantOwned):
    """A user's API key. It acts as its user, with the user's role. Only a SHA-256 of the secret is
    kept (the secret is 256 random bits, so a fast hash is enough); the prefix finds the row."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=dj_timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self):
        return self.revoked_at is None
