"""What a vendor adapter reads, in our terms but still naming vendor ids. Adapters
(importers/vendors/<one module each>) turn API answers into these; importers.services turns these
into our objects. Whatever an adapter cannot express exactly goes into `notes`, with the reason."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time

KINDS = ("users", "teams", "schedules", "policies", "integrations")


@dataclass
class Note:
    """Something that cannot be mapped exactly (or at all): shown in the plan, never hidden."""

    kind: str
    vendor_id: str
    name: str
    reason: str


@dataclass
class Contact:
    vendor_id: str
    kind: str  # notifications.models.Channel: email, sms, voice
    address: str


@dataclass
class UserSpec:
    vendor_id: str
    name: str
    email: str
    role: str = "responder"
    timezone: str = ""
    contacts: list = field(default_factory=list)


@dataclass
class TeamSpec:
    vendor_id: str
    name: str
    description: str = ""
    members: list = field(default_factory=list)  # vendor user ids


@dataclass
class LayerSpec:
    vendor_id: str
    name: str
    users: list  # vendor user ids in rotation order
    rotation_start: datetime  # naive, wall clock in the schedule's zone
    length_count: int
    length_unit: str  # hours, days, weeks
    end: datetime | None = None  # aware
    restrictions: list = field(default_factory=list)  # schedules.restrictions.normalize_restrictions form


@dataclass
class OverrideSpec:
    vendor_id: str
    user: str  # vendor user id
    start: datetime  # aware
    end: datetime


@dataclass
class ScheduleSpec:
    vendor_id: str
    name: str
    timezone: str
    description: str = ""
    team: str | None = None  # vendor team id
    layers: list = field(default_factory=list)  # lowest priority first
    overrides: list = field(default_factory=list)
    kind: str = "recurring"  # "static": explicit `shifts` instead of layers
    shifts: list = field(default_factory=list)  # OverrideSpec-shaped: vendor_id, user, start, end


@dataclass
class LevelSpec:
    timeout_minutes: int
    notify_mode: str = "all"
    users: list = field(default_factory=list)  # vendor ids
    teams: list = field(default_factory=list)
    schedules: list = field(default_factory=list)


@dataclass
class PolicySpec:
    vendor_id: str
    name: str
    description: str = ""
    repeat_count: int = 0
    levels: list = field(default_factory=list)


@dataclass
class IntegrationSpec:
    vendor_id: str
    name: str
    integration_type: str  # alerts.models.Integration
    policy: str | None = None  # vendor policy id


@dataclass
class Organisation:
    users: list = field(default_factory=list)
    teams: list = field(default_factory=list)
    schedules: list = field(default_factory=list)
    policies: list = field(default_factory=list)
    integrations: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def note(self, kind, vendor_id, name, reason):
        self.notes.append(Note(kind, str(vendor_id), name or "", reason))


def _plain(value):
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    raise TypeError(type(value))


def digest(spec) -> str:
    """A stable hash of what a spec says: equal digests, nothing changed at the vendor."""
    return hashlib.sha256(json.dumps(asdict(spec), sort_keys=True, default=_plain).encode()).hexdigest()
