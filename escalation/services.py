"""Every change to escalation policies and levels. Targets (users, teams, schedules) must belong
to the policy's tenant."""

from django.db import IntegrityError, transaction
from django.db.models import Max

from ilert.errors import Conflict, DomainError

from .models import MAX_REPEATS, MAX_TIMEOUT_MINUTES, EscalationLevel, EscalationPolicy, NotifyMode

TARGET_FIELDS = ("users", "teams", "schedules")


def _check_policy_fields(tenant, fields, policy=None):
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            raise DomainError("A name is required.", field="name")
    if "repeat_count" in fields and not 0 <= fields["repeat_count"] <= MAX_REPEATS:
        raise DomainError(f"Between 0 and {MAX_REPEATS}.", field="repeat_count")
    if fields.get("routing_key"):
        fields["routing_key"] = fields["routing_key"].strip()
        clash = EscalationPolicy.objects.filter(tenant=tenant, routing_key=fields["routing_key"])
        if policy is not None:
            clash = clash.exclude(pk=policy.pk)
        if clash.exists():
            raise Conflict("Another policy already uses this routing key.", field="routing_key")


def _saved(policy):
    """Save; a routing key taken by a concurrent save (the unique index decides) is a 409."""
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise Conflict("Another policy already uses this routing key.", field="routing_key") from None
    return policy


def _check_level_fields(tenant, fields):
    if "timeout_minutes" in fields and not 0 <= fields["timeout_minutes"] <= MAX_TIMEOUT_MINUTES:
        raise DomainError(f"Between 0 and {MAX_TIMEOUT_MINUTES} minutes.", field="timeout_minutes")
    if "notify_mode" in fields and fields["notify_mode"] not in NotifyMode.values:
        raise DomainError(f"Must be one of {', '.join(NotifyMode.values)}.", field="notify_mode")
    for name in TARGET_FIELDS:
        for target in fields.get(name) or ():
            if target.tenant_id != tenant.pk:
                raise DomainError("Unknown target.", field=name)


def _set_targets(level, fields):
    for name in TARGET_FIELDS:
        if name in fields:
            getattr(level, name).set(fields[name] or [])


@transaction.atomic
def create_policy(tenant, *, name, description="", repeat_count=0, routing_key="", levels=()):
    fields = {"name": name, "repeat_count": repeat_count, "routing_key": routing_key}
    _check_policy_fields(tenant, fields)
    policy = _saved(EscalationPolicy(tenant=tenant, description=description, **fields))
    for level in levels:
        add_level(policy, **level)
    return policy


@transaction.atomic
def update_policy(policy, *, levels=None, **fields):
    _check_policy_fields(policy.tenant, fields, policy)
    for key, value in fields.items():
        setattr(policy, key, value)
    _saved(policy)
    if levels is not None:
        replace_levels(policy, levels)
    return policy


def delete_policy(policy):
    """Alert sources using it page nobody until given another; running incidents stop escalating
    at their next step (and say so on their timeline)."""
    policy.delete()


@transaction.atomic
def add_level(policy, *, timeout_minutes=30, notify_mode=NotifyMode.ALL, users=(), teams=(), schedules=(),
              position=None):
    fields = {"timeout_minutes": timeout_minutes, "notify_mode": notify_mode, "users": users, "teams": teams,
              "schedules": schedules}
    _check_level_fields(policy.tenant, fields)
    last = policy.levels.aggregate(n=Max("position"))["n"] or 0
    level = EscalationLevel.objects.create(
        tenant=policy.tenant, policy=policy, position=last + 1, timeout_minutes=timeout_minutes,
        notify_mode=notify_mode,
    )
    _set_targets(level, fields)
    if position is not None and position != level.position:
        move_level(level, position)
    return level


@transaction.atomic
def update_level(level, **fields):
    _check_level_fields(level.tenant, fields)
    for key in ("timeout_minutes", "notify_mode"):
        if key in fields:
            setattr(level, key, fields[key])
    level.save()
    _set_targets(level, fields)
    return level


@transaction.atomic
def move_level(level, position):
    """Put `level` at `position` (1-based, clamped), shifting the others; positions stay dense."""
    levels = list(EscalationLevel.objects.select_for_update().filter(policy=level.policy_id).order_by("position"))
    ordered = [lvl for lvl in levels if lvl.pk != level.pk]
    position = max(1, min(position, len(levels)))
    ordered.insert(position - 1, next(lvl for lvl in levels if lvl.pk == level.pk))
    _renumber(ordered)
    level.refresh_from_db()
    return level


@transaction.atomic
def delete_level(level):
    policy_id = level.policy_id
    level.delete()
    _renumber(list(EscalationLevel.objects.select_for_update().filter(policy=policy_id).order_by("position")))


def _renumber(ordered):
    # Two passes so the unique (policy, position) never sees a duplicate midway.
    offset = 1000
    for index, lvl in enumerate(ordered, start=1):
        EscalationLevel.objects.filter(pk=lvl.pk).update(position=offset + index)
    for index, lvl in enumerate(ordered, start=1):
        EscalationLevel.objects.filter(pk=lvl.pk).update(position=index)


@transaction.atomic
def replace_levels(policy, levels):
    """Make the policy's levels exactly `levels` (a list of dicts, in order): the API's PUT."""
    for data in levels:
        _check_level_fields(policy.tenant, dict(data))
    policy.levels.all().delete()
    for data in levels:
        add_level(policy, **{k: v for k, v in data.items() if k != "position"})
