"""Every change to alert sources and incidents. These functions are the only writers of incident
state (docs/architecture.md §2, "one door per state change"): the dashboard, the REST API, every inbound
integration, SMS/voice/push/email replies and the escalation engine all come through here.

Each change writes an IncidentLogEntry and announces a domain event (alerts.events) inside the
same transaction.

`alerts.services` stays the one door other apps import; the functions live by concern:
sources.py (alert sources, maintenance windows, change events), intake.py (ingest),
incidents.py (incident actions, the timeline, the escalation engine's door).
"""

from ilert import clock  # noqa: F401 - tests move time through alerts.services.clock

from .incidents import (  # noqa: F401
    COMMENT_MAX,
    AlreadyResolved,
    EscalationChange,
    accept,
    add_tags,
    advance_escalations,
    assign,
    comment,
    escalate,
    log,
    log_many,
    resolve,
    tags_of,
)
from .intake import DETAILS_MAX, GROUP_KEY, SUMMARY_MAX, ingest  # noqa: F401
from .sources import (  # noqa: F401
    HEARTBEAT_LIMITS,
    NumberTaken,
    SourceDisabled,
    add_maintenance_window,
    create_alert_source,
    delete_alert_source,
    delete_maintenance_window,
    in_maintenance,
    prune_changes,
    record_change,
    regenerate_integration_key,
    update_alert_source,
)
