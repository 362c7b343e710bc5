"""Escalation policies. (Levels and the engine's bookkeeping are added by the escalation issue.)"""

from django.db import models
from django.utils import timezone as dj_timezone

from ilert.tenancy import TenantOwned


class EscalationPolicy(TenantOwned):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    # After the last level, start again from level 1 this many times (0-9).
    repeat_count = models.PositiveSmallIntegerField(default=0)
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
