"""The normalized inbound event every integration translates its payload into, and the answer
ingest gives back. Integrations (alerts/integrations/) build an InboundEvent and call
alerts.services.ingest(source, event) — that is their whole job."""

from dataclasses import dataclass, field


class EventType:
    ALERT = "ALERT"
    ACCEPT = "ACCEPT"
    RESOLVE = "RESOLVE"
    ALL = (ALERT, ACCEPT, RESOLVE)


class ResponseCode:
    NEW_INCIDENT_CREATED = "NEW_INCIDENT_CREATED"
    EVENT_APPENDED = "EVENT_APPENDED"
    INCIDENT_ACCEPTED = "INCIDENT_ACCEPTED"
    INCIDENT_RESOLVED = "INCIDENT_RESOLVED"
    EVENT_IGNORED = "EVENT_IGNORED"


@dataclass
class InboundEvent:
    event_type: str
    summary: str = ""
    details: str = ""
    incident_key: str = ""
    priority: str | None = None  # None: the alert source's default
    links: list = field(default_factory=list)  # [{"href", "text"}]
    images: list = field(default_factory=list)  # [{"src", "href", "alt"}]
    custom_details: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    routing_key: str = ""  # selects an escalation policy by its routing key
    via: str = "api"  # the integration, for the timeline

    def for_timeline(self, details_limit=4000):
        data = dict(vars(self))  # shallow: it is written out as JSON at once (asdict's deep copy cost more)
        data["details"] = data["details"][:details_limit]
        return data


@dataclass
class IngestResult:
    code: str
    incident: object = None
    incident_key: str = ""
    incidents: list = field(default_factory=list)  # every incident the event acted on
