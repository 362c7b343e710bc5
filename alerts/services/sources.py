"""Alert sources, their maintenance windows and their change events."""

from datetime import timedelta

from django.db import IntegrityError, transaction

from ilert import clock
from ilert.errors import Conflict, DomainError

from .. import inbound_numbers
from ..integrations import registry
from ..models import (
    AlertSource,
    ChangeEvent,
    CreationMode,
    MaintenanceWindow,
    Priority,
    new_integration_key,
)


class SourceDisabled(DomainError):
    status = 403
    code = "source_disabled"


def _check_policy(tenant, policy):
    if policy is not None and policy.tenant_id != tenant.pk:
        raise DomainError("Unknown escalation policy.", field="escalation_policy")


def _check_source_fields(fields):
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            raise DomainError("A name is required.", field="name")
    choices = {
        "integration_type": registry.names(), "default_priority": Priority.values,
        "creation_mode": CreationMode.values, "status": AlertSource.Status.values,
    }
    for name, allowed in choices.items():
        if name in fields and fields[name] not in allowed:
            raise DomainError(f"Must be one of {', '.join(allowed)}.", field=name)
    minutes = fields.get("auto_resolve_minutes")
    if minutes is not None and not (1 <= minutes <= 60 * 24 * 30):
        raise DomainError("Between 1 minute and 30 days (43200 minutes), or empty.", field="auto_resolve_minutes")
    if "options" in fields and not isinstance(fields["options"], dict):
        raise DomainError("Must be a JSON object.", field="options")
    for name, (low, high, text) in HEARTBEAT_LIMITS.items():
        value = fields.get(name)
        if name in fields and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high):
            raise DomainError(text, field=name)


HEARTBEAT_LIMITS = {
    "heartbeat_interval_seconds": (5, 31 * 86400, "Between 5 seconds and 31 days (2678400 seconds)."),
    "heartbeat_grace_seconds": (0, 7 * 86400, "Between 0 seconds and 7 days (604800 seconds)."),
}


def _clean_options(integration_type, fields, source=None):
    """Per-integration options (email rules, SMS number and senders, grouping) are checked by the
    integration's module (its INTEGRATION.clean_options)."""
    if "options" in fields:
        fields["options"] = registry.clean_options(integration_type, fields["options"], source=source)


def _heartbeat_timer(source, fields):
    """A changed interval or grace moves the pending deadline; a status change restarts the timer
    at the next ping (a source that was disabled is not overdue the moment it is enabled)."""
    if "status" in fields and fields["status"] != source.status:
        source.next_expected_at = None
    elif source.last_ping_at and not source.heartbeat_overdue and source.next_expected_at and (
        fields.get("heartbeat_interval_seconds", source.heartbeat_interval_seconds) != source.heartbeat_interval_seconds
        or fields.get("heartbeat_grace_seconds", source.heartbeat_grace_seconds) != source.heartbeat_grace_seconds
    ):
        seconds = fields.get("heartbeat_interval_seconds", source.heartbeat_interval_seconds) + fields.get(
            "heartbeat_grace_seconds", source.heartbeat_grace_seconds)
        source.next_expected_at = source.last_ping_at + timedelta(seconds=seconds)


def create_alert_source(tenant, *, name, integration_type=registry.DEFAULT, escalation_policy=None, **fields):
    fields.update(name=name, integration_type=integration_type)
    _check_source_fields(fields)
    _clean_options(integration_type, fields)
    _check_policy(tenant, escalation_policy)
    source = AlertSource(tenant=tenant, escalation_policy=escalation_policy, **fields)
    source.set_integration_key(new_integration_key())
    _save_source(source)
    return source


def update_alert_source(source, **fields):
    _check_source_fields(fields)
    _clean_options(fields.get("integration_type", source.integration_type), fields, source=source)
    if "escalation_policy" in fields:
        _check_policy(source.tenant, fields["escalation_policy"])
    _heartbeat_timer(source, fields)
    for key, value in fields.items():
        setattr(source, key, value)
    _save_source(source)
    return source


class NumberTaken(Conflict):
    code = "number_taken"


def _save_source(source):
    """Save, with the SMS number column in step with the options. The number's uniqueness across
    tenants is the database's (a unique index, no read-then-write race); the message says nothing
    about who has it."""
    previous = source.inbound_number if source.pk else None
    source.inbound_number = None
    if source.integration_type == "sms":  # alerts.integrations.sms: its options name the number
        source.inbound_number = (source.options or {}).get("phone_number") or None
    if source.inbound_number and source.inbound_number != previous:
        inbound_numbers.verify(source.tenant, source.inbound_number)  # proven with Twilio, not first-come
    try:
        with transaction.atomic():
            source.save()
    except IntegrityError:
        if source.inbound_number and AlertSource.objects.filter(
                inbound_number=source.inbound_number).exclude(pk=source.pk).exists():
            raise NumberTaken("This number cannot be used.", field="options") from None
        raise


def regenerate_integration_key(source):
    """A new key; the old one stops working at once."""
    source.set_integration_key(new_integration_key())
    source.save(update_fields=["key_hash", "folded_key_hash", "key_encrypted"])
    return source


def delete_alert_source(source):
    source.delete()


def add_maintenance_window(source, *, start, end, description=""):
    if end <= start:
        raise DomainError("The end must be after the start.", field="end")
    return MaintenanceWindow.objects.create(
        tenant=source.tenant, alert_source=source, start=start, end=end, description=description[:255]
    )


def delete_maintenance_window(window):
    window.delete()


# --- change events --------------------------------------------------------------------------------


def record_change(source, *, summary, source_name="", happened_at=None, custom_details=None, links=()):
    """Store a change event of `source` (a deploy, a config change). Nobody is paged."""
    if not source.is_active:
        raise SourceDisabled(f"The alert source {source.name!r} is disabled.")
    now = clock.now()
    return ChangeEvent.objects.create(
        tenant_id=source.tenant_id, alert_source=source, summary=summary[:1024], source=source_name[:255],
        happened_at=happened_at or now, received_at=now, custom_details=custom_details or {}, links=list(links),
    )


def prune_changes(now=None):
    """Forget change events older than ChangeEvent.RETENTION_DAYS (as PagerDuty does). Returns how many."""
    cutoff = (now or clock.now()) - timedelta(days=ChangeEvent.RETENTION_DAYS)
    deleted, _ = ChangeEvent.objects.filter(happened_at__lt=cutoff).delete()
    return deleted


def in_maintenance(source, at):
    return MaintenanceWindow.objects.filter(alert_source=source, start__lte=at, end__gt=at).exists()
