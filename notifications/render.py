"""What every channel's renderer shares (each channel renders its own messages: channels/<name>.py).
A page may carry several incidents (a bundle): `items` is the leader followed by the notifications
bundled into it, each with its incident and reply code."""

import zoneinfo
from dataclasses import dataclass, field


@dataclass
class Rendered:
    subject: str = ""
    text: str = ""
    html: str = ""
    extra: dict = field(default_factory=dict)


def local_time(user, moment, *, organisation=False):
    """`moment` in the user's time zone (or their organisation's)."""
    name = (None if organisation else user.timezone) or user.tenant.timezone or "UTC"
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return moment.astimezone(zone)


def headline(incident):
    """ "#4711 HIGH": how every channel names an incident in a title."""
    return f"#{incident.number} {incident.priority}"
