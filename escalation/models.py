"""Escalation policies and their levels. An incident's position in its policy (level, round, next
due time) is kept on the incident itself (alerts.Incident), where the engine claims it."""

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone as dj_timezone

from ilert.tenancy import TenantOwned

MAX_REPEATS = 9
MAX_TIMEOUT_MINUTES = 1440


class EscalationPolicy(TenantOwned):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    # After the last level, start again from level 1 this many times (0-9).
    repeat_count = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(MAX_REPEATS)])
    # An event's routingKey selects the policy with this key (overriding the source's policy).
    routing_key = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "routing_key"], condition=~models.Q(routing_key=""), name="policy_routing_key_unique"
            )
        ]

    def __str__(self):
        return self.name


class NotifyMode(models.TextChoices):
    ALL = "all", "Notify all targets at once"
    ROUND_ROBIN = "round_robin", "One target per round (round robin)"


class EscalationLevel(TenantOwned):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField()  # 1-based, dense
    timeout_minutes = models.PositiveSmallIntegerField(
        default=30, validators=[MaxValueValidator(MAX_TIMEOUT_MINUTES)],
        help_text="Minutes to wait for an accept before the next level (0: move on at once).",
    )
    notify_mode = models.CharField(max_length=12, choices=NotifyMode.choices, default=NotifyMode.ALL)
    users = models.ManyToManyField("accounts.User", blank=True, related_name="+")
    teams = models.ManyToManyField("accounts.Team", blank=True, related_name="+")
    schedules = models.ManyToManyField("schedules.Schedule", blank=True, related_name="escalation_levels")

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="level_position_unique"),
        ]

    def __str__(self):
        return f"{self.policy.name} level {self.position}"
