"""Schedules, layers (with restrictions as JSON), layer members, static shifts, overrides, calendar feeds.

Instants are stored in UTC. The rotation start of a layer is a wall-clock date and time in the
schedule's zone (`start_date` + `handoff_time`), because handoffs happen at wall-clock times.
How the rules turn into "who is on call" is in schedules.resolution.
"""

import zoneinfo
from datetime import datetime, timedelta

from django.db import models
from django.db.models import F, Q
from django.utils import timezone as dj_timezone

from accounts.models import validate_time_zone
from ilert import secrets as ilert_secrets
from ilert.tenancy import TenantOwned


class Schedule(TenantOwned):
    class Kind(models.TextChoices):
        RECURRING = "recurring", "Recurring (layers of rotations)"
        STATIC = "static", "Static (explicit shifts)"

    name = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, validators=[validate_time_zone],
                                help_text="IANA time zone of handoffs and restrictions, e.g. Europe/Berlin.")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RECURRING)
    description = models.TextField(blank=True, max_length=2000)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="schedules")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="schedule_name_unique_per_tenant")]

    def __str__(self):
        return self.name

    @property
    def zone(self):
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def is_static(self):
        return self.kind == self.Kind.STATIC


class Layer(TenantOwned):
    """A rotation: `users` take turns of `length_count` × `length_unit`, handing off at wall-clock
    times from `start_date` at `handoff_time`. Higher `position` wins over lower layers."""

    class Unit(models.TextChoices):
        HOURS = "hours", "hours"
        DAYS = "days", "days"
        WEEKS = "weeks", "weeks"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    start_date = models.DateField(help_text="Date of the first handoff (the rotation start), in the schedule's zone.")
    handoff_time = models.TimeField(help_text="Wall-clock time of handoffs in the schedule's zone.")
    length_count = models.PositiveIntegerField(default=1)
    length_unit = models.CharField(max_length=8, choices=Unit.choices, default=Unit.WEEKS)
    end = models.DateTimeField(null=True, blank=True, help_text="The layer covers nobody from this instant on.")
    # [{"type": "time_of_day", "start": "18:00", "end": "08:00"},
    #  {"type": "time_of_week", "start_day": "mon", "start": "09:00", "end_day": "fri", "end": "17:00"}]
    restrictions = models.JSONField(default=list, blank=True)
    users = models.ManyToManyField("accounts.User", through="LayerMember", related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["schedule", "-position", "id"]
        constraints = [models.CheckConstraint(condition=Q(length_count__gte=1), name="layer_length_positive")]

    def __str__(self):
        return self.name

    @property
    def rotation_start(self):
        """The first handoff, as a naive wall-clock datetime in the schedule's zone."""
        return datetime.combine(self.start_date, self.handoff_time)

    @property
    def step(self):
        return timedelta(**{self.length_unit: self.length_count})

    @property
    def length_label(self):
        unit = self.length_unit if self.length_count != 1 else self.length_unit[:-1]
        return f"{self.length_count} {unit}"

    def ordered_users(self):
        return [m.user for m in self.memberships.select_related("user").order_by("position")]


class LayerMember(models.Model):
    """A user's place in a layer's rotation order (a user may appear more than once)."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["layer", "position"]
        constraints = [models.UniqueConstraint(fields=["layer", "position"], name="layer_member_position_unique")]

    def __str__(self):
        return f"{self.position + 1}. {self.user}"


class Shift(TenantOwned):
    """An explicit shift of a static schedule. Shifts of one schedule never overlap."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="shifts")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["schedule", "start"])]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="shift_end_after_start")]

    def __str__(self):
        return f"{self.user} {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M} UTC"


class Override(TenantOwned):
    """`user` is on call from `start` to `end`, whatever the layers or shifts say. Where overrides
    overlap, the later-created one wins."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["schedule", "end"])]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="override_end_after_start")]

    def __str__(self):
        return f"Override {self.user} {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M} UTC"


class CalendarFeed(TenantOwned):
    """A secret iCalendar URL: a schedule's final timeline (`schedule` set) or one user's own shifts
    across all schedules (`schedule` empty, `user` set). Regenerating replaces the token; deleting
    the row revokes the URL. The token is stored encrypted (so the dashboard can show the URL again)
    and found by its SHA-256 (ilert.secrets); it grants read access to that one calendar only."""

    token_hash = models.CharField(max_length=64, unique=True)
    token_encrypted = models.TextField()
    schedule = models.ForeignKey(Schedule, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["schedule"], condition=Q(schedule__isnull=False),
                                    name="calendar_feed_one_per_schedule"),
            models.UniqueConstraint(fields=["user"], condition=Q(schedule__isnull=True),
                                    name="calendar_feed_one_per_user"),
        ]

    @property
    def token(self):
        return ilert_secrets.decrypt(self.token_encrypted)

    def set_token(self, token):
        self.token_hash = ilert_secrets.lookup_hash(token)
        self.token_encrypted = ilert_secrets.encrypt(token)
