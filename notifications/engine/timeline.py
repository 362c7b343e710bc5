"""What the engine writes on an incident's timeline: who was paged, how, by whom, when."""

from alerts import services as alert_services
from alerts.models import LogKind

from .. import channels, render
from ..models import Notification

DEV_OUTBOX = "the dev outbox"


def target(row):
    """ "SMS to Rita Responder (+49…4567)" for the timeline."""
    channel = channels.get(row.channel)
    device = row.contact_method.device_name if row.contact_method_id and row.contact_method else ""
    return f"{channel.timeline_label} to {row.user.display_name} ({channel.masked_address(row.address, device)})"


def log(row, message, *, kind=LogKind.NOTIFICATION, data=None):
    if row.incident_id is None or row.kind != Notification.Kind.PAGE:
        return
    payload = {"notification": row.pk, "channel": row.channel, "status": row.status}
    payload.update(data or {})
    alert_services.log(row.incident, kind, message, via=row.channel, data=payload)


def log_many(lines):
    """`log` for many (row, message, data) at once: one INSERT."""
    entries = []
    for row, message, data in lines:
        if row.incident_id is None or row.kind != Notification.Kind.PAGE:
            continue
        payload = {"notification": row.pk, "channel": row.channel, "status": row.status, **(data or {})}
        entries.append((row.incident, LogKind.NOTIFICATION, message, row.channel, payload, None))
    if entries:
        alert_services.log_many(entries)


def log_call(claim, message, *, kind=LogKind.NOTIFICATION):
    """The same line on the timeline of every incident a message carried (its leader and bundle)."""
    for row in [claim.leader] + claim.followers:
        log(row, message.replace("{target}", target(row)), kind=kind)


def clock_time(row, moment):
    """14:02:05 CET — in the organisation's time zone, named (timelines are read by everyone)."""
    local = render.local_time(row.user, moment, organisation=True)
    return local.strftime("%H:%M:%S %Z")


def provider(name):
    """How the timeline names a provider (Sent.provider): as its channel declares it."""
    if name == "dev":
        return DEV_OUTBOX
    for channel in channels.REGISTERED:
        if name in channel.provider_labels:
            return channel.provider_labels[name]
    return name or "the provider"
