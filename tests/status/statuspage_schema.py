"""JSON Schemas of the Statuspage public API v2, written from Atlassian's documented shapes
(https://metastatuspage.com/api/v2/ and the v1 incident objects): field names and types."""

TIME = {"type": "string", "format": "date-time", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"}
TIME_OR_NULL = {"anyOf": [TIME, {"type": "null"}]}
STR_OR_NULL = {"type": ["string", "null"]}
COMPONENT_STATUS = {"enum": ["operational", "degraded_performance", "partial_outage", "major_outage",
                             "under_maintenance"]}

PAGE = {
    "type": "object",
    "required": ["id", "name", "url", "time_zone", "updated_at"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "url": {"type": "string"},
                   "time_zone": {"type": "string"}, "updated_at": TIME},
}
STATUS = {
    "type": "object", "required": ["indicator", "description"],
    "properties": {"indicator": {"enum": ["none", "minor", "major", "critical", "maintenance"]},
                   "description": {"type": "string"}},
}
COMPONENT = {
    "type": "object",
    "required": ["id", "name", "status", "created_at", "updated_at", "position", "description", "showcase",
                 "start_date", "group_id", "page_id", "group", "only_show_if_degraded"],
    "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "status": COMPONENT_STATUS,
        "created_at": TIME, "updated_at": TIME, "position": {"type": "integer"}, "description": STR_OR_NULL,
        "showcase": {"type": "boolean"}, "start_date": STR_OR_NULL, "group_id": STR_OR_NULL,
        "page_id": {"type": "string"}, "group": {"type": "boolean"}, "only_show_if_degraded": {"type": "boolean"},
        "components": {"type": "array", "items": {"type": "string"}},
    },
}
AFFECTED = {
    "type": "object", "required": ["code", "name", "old_status", "new_status"],
    "properties": {"code": {"type": "string"}, "name": {"type": "string"}, "old_status": COMPONENT_STATUS,
                   "new_status": COMPONENT_STATUS},
}
UPDATE = {
    "type": "object",
    "required": ["id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
                 "affected_components", "deliver_notifications", "custom_tweet", "tweet_id"],
    "properties": {
        "id": {"type": "string"}, "body": {"type": "string"}, "incident_id": {"type": "string"},
        "status": {"enum": ["investigating", "identified", "monitoring", "resolved", "postmortem", "scheduled",
                            "in_progress", "verifying", "completed"]},
        "created_at": TIME, "updated_at": TIME, "display_at": TIME,
        "affected_components": {"anyOf": [{"type": "null"}, {"type": "array", "items": AFFECTED}]},
        "deliver_notifications": {"type": "boolean"}, "custom_tweet": STR_OR_NULL, "tweet_id": STR_OR_NULL,
    },
}
INCIDENT = {
    "type": "object",
    "required": ["id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact",
                 "shortlink", "started_at", "page_id", "incident_updates", "components"],
    "properties": {
        "id": {"type": "string"}, "name": {"type": "string"},
        "status": {"enum": ["investigating", "identified", "monitoring", "resolved", "postmortem"]},
        "created_at": TIME, "updated_at": TIME, "monitoring_at": TIME_OR_NULL, "resolved_at": TIME_OR_NULL,
        "impact": {"enum": ["none", "minor", "major", "critical"]}, "shortlink": {"type": "string"},
        "started_at": TIME, "page_id": {"type": "string"},
        "incident_updates": {"type": "array", "items": UPDATE},
        "components": {"type": "array", "items": COMPONENT},
    },
}
MAINTENANCE = {
    **INCIDENT,
    "required": INCIDENT["required"] + ["scheduled_for", "scheduled_until"],
    "properties": {**INCIDENT["properties"],
                   "status": {"enum": ["scheduled", "in_progress", "verifying", "completed"]},
                   "impact": {"enum": ["none", "maintenance", "minor", "major", "critical"]},
                   "scheduled_for": TIME, "scheduled_until": TIME},
}


def _doc(**parts):
    return {"type": "object", "required": ["page", *parts], "properties": {"page": PAGE, **parts}}


SUMMARY = _doc(components={"type": "array", "items": COMPONENT}, incidents={"type": "array", "items": INCIDENT},
               scheduled_maintenances={"type": "array", "items": MAINTENANCE}, status=STATUS)
SCHEMAS = {
    "summary.json": SUMMARY,
    "status.json": _doc(status=STATUS),
    "components.json": _doc(components={"type": "array", "items": COMPONENT}),
    "incidents.json": _doc(incidents={"type": "array", "items": INCIDENT}),
    "incidents/unresolved.json": _doc(incidents={"type": "array", "items": INCIDENT}),
    "scheduled-maintenances.json": _doc(scheduled_maintenances={"type": "array", "items": MAINTENANCE}),
    "scheduled-maintenances/upcoming.json": _doc(scheduled_maintenances={"type": "array", "items": MAINTENANCE}),
    "scheduled-maintenances/active.json": _doc(scheduled_maintenances={"type": "array", "items": MAINTENANCE}),
}
