"""What the Opsgenie-compatible API reads: the key's alert source, the alert an identifier names,
the signed requestId that records what a write did, an incident shown as an Opsgenie alert, and
the documented subset of Opsgenie's search query."""

import re
from datetime import UTC

from django.conf import settings
from django.core import signing
from django.db.models import F, Q
from django.utils.http import urlencode

from ilert import clock, ratelimit

from ... import selectors, services
from ...models import Incident, Priority
from .. import base
from .wire import PRIORITIES, Invalid, NotFound

NAME = "opsgenie"
REQUEST_SALT = "alerts.opsgenie.request"
REQUEST_MAX_AGE = 7 * 24 * 3600  # how long GET v2/alerts/requests/{requestId} answers


# --- who is asking --------------------------------------------------------------------------------


def source_of(request):
    """The Opsgenie alert source of the request's GenieKey; Reject(401) when there is none, 404
    (naming the type) for a key of another source type."""
    scheme, _, key = request.headers.get("Authorization", "").strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "geniekey" or not key:
        raise base.Reject(401, "Missing GenieKey authorization", field="GenieKey")
    source = selectors.source_for_key(key)
    if source is None:
        raise base.Reject(401, "Could not authenticate")
    if source.integration_type != NAME:
        raise base.wrong_source_type(source)
    return source


def limit_reads(source):
    """Reads have their own budget (INGEST_RATE_LIMIT again), so a polling script cannot use up
    the events of its key."""
    wait = ratelimit.hit(settings.INGEST_RATE_LIMIT, "opsgenie-reads", source.key_hash)
    if wait:
        raise base.Reject(429, "Too many requests.", headers={"Retry-After": str(wait)})


def check_writable(source):
    if not source.is_active:
        raise base.Reject(403, f"The alert source {source.name!r} is disabled.")
    base.rate_limit(source.key_hash)


# --- which alert ------------------------------------------------------------------------------------


def identifier_type_of(request):
    value = request.GET.get("identifierType", "id")
    if value not in ("id", "tiny", "alias"):
        raise Invalid("identifierType", "identifierType should be one of [id, tiny, alias].")
    return value


def alert_of(source, identifier, identifier_type):
    """The incident of the key's source that an Opsgenie identifier names, else NotFound (also for
    another source's or tenant's incident: it is not told apart from an unknown one)."""
    incidents = Incident.objects.filter(alert_source=source).select_related(
        "alert_source", "accepted_by", "resolved_by", "assigned_to")
    if identifier_type == "alias":
        key = base.short_key(identifier.strip())
        # The open incident with that key, else the latest one (a resolved incident never reopens).
        incident = (incidents.filter(incident_key=key)
                    .order_by(F("resolved_at").desc(nulls_first=True), "-created_at", "-id").first() if key else None)
    else:
        number = int(identifier) if identifier.isascii() and identifier.isdigit() and len(identifier) < 19 else None
        if number is None:
            incident = None
        elif identifier_type == "tiny":
            incident = incidents.filter(number=number).first()
        else:
            incident = incidents.filter(pk=number).first()
    if incident is None:
        raise NotFound()
    return incident


# --- what a request did: its signed requestId ------------------------------------------------------


def new_request_id(source, action, *, incident=None, alias="", failure=""):
    """A compact signed record of what the request did: [source, action, alert id, when (ms)],
    plus [why not, alias] when it did not succeed."""
    record = [source.pk, action, incident.pk if incident else None, int(clock.now().timestamp() * 1000)]
    if failure:
        record += [failure, "" if incident else alias[:255]]
    return signing.dumps(record, salt=REQUEST_SALT, compress=True)


def read_request_id(source, request_id):
    try:
        record = signing.loads(request_id, salt=REQUEST_SALT, max_age=REQUEST_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        record = None
    if not isinstance(record, list) or len(record) not in (4, 6) or record[0] != source.pk:
        raise NotFound("Request not found. It might not be processed, yet.")
    return record


# --- the alert, as Opsgenie shows it ---------------------------------------------------------------


def iso_time(value):
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def _name(user):
    return user.display_name if user is not None else ""


def alias_of(incident):
    return (incident.custom_details or {}).get("opsgenie_alias") or incident.incident_key


def _priority(incident):
    sent = (incident.custom_details or {}).get("opsgenie_priority")
    return sent if sent in PRIORITIES else ("P1" if incident.priority == Priority.HIGH else "P3")


def _report(incident):
    report = {}
    if incident.accepted_at:
        report["ackTime"] = int((incident.accepted_at - incident.created_at).total_seconds() * 1000)
        report["acknowledgedBy"] = _name(incident.accepted_by) or "integration"
    if incident.resolved_at:
        report["closeTime"] = int((incident.resolved_at - incident.created_at).total_seconds() * 1000)
        report["closedBy"] = _name(incident.resolved_by) or "integration"
    return report


def as_alert(incident, *, full=False):
    labels = incident.labels or {}
    source = incident.alert_source
    updated = max(t for t in (incident.created_at, incident.last_event_at, incident.accepted_at,
                              incident.resolved_at) if t)
    alert = {
        "id": str(incident.pk), "tinyId": str(incident.number), "alias": alias_of(incident),
        "message": incident.summary, "status": "open" if incident.is_open else "closed",
        "acknowledged": incident.accepted_at is not None, "isSeen": incident.accepted_at is not None,
        "tags": services.tags_of(incident), "snoozed": False, "count": incident.event_count,
        "lastOccurredAt": iso_time(incident.last_event_at), "createdAt": iso_time(incident.created_at),
        "updatedAt": iso_time(updated), "source": labels.get("source") or source.name,
        "owner": _name(incident.accepted_by or incident.assigned_to), "priority": _priority(incident),
        "responders": [], "integration": {"id": str(source.pk), "name": source.name, "type": "API"},
        "report": _report(incident),
    }
    if full:
        ours = {"tags", "opsgenie_priority", "opsgenie_alias"}
        alert.update({
            "actions": [], "entity": labels.get("entity", ""), "description": incident.details,
            "details": {str(k): v if isinstance(v, str) else str(v)
                        for k, v in (incident.custom_details or {}).items() if k not in ours},
        })
    return alert


# --- search ---------------------------------------------------------------------------------------

QUERY_TERM = re.compile(r'\s*(\w+)\s*[:=]\s*("([^"]*)"|[^\s"]+)\s*')
QUERY_AND = re.compile(r"(?i)\s*and\s+")
SORTS = {"createdAt": "created_at", "tinyId": "number", "lastOccurredAt": "last_event_at", "count": "event_count",
         "alias": "incident_key", "message": "summary", "status": "status"}
QUERY_HELP = ('Supported: status (open, closed), acknowledged (true, false), alias, tinyId and tag, as field:value '
              'terms joined by spaces or AND, e.g. status:open AND tag:db.')


def _term(field, value):
    if field == "status" and value in ("open", "closed"):
        return Q(status__in=Incident.OPEN) if value == "open" else Q(status=Incident.Status.RESOLVED)
    if field == "acknowledged" and value in ("true", "false"):
        return Q(accepted_at__isnull=value == "false")
    if field == "alias":
        return Q(incident_key=base.short_key(value))
    if field == "tinyid" and value.isascii() and value.isdigit() and len(value) < 19:
        return Q(number=int(value))
    if field in ("tag", "tags"):
        return Q(labels__tags__regex=rf"(^|, ){re.escape(value)}(,|$)")
    return None


def search(source, request):
    """The source's incidents the Opsgenie `query` selects (a documented subset of its syntax;
    anything else is a 422 rather than a silently wrong answer)."""
    incidents = Incident.objects.filter(alert_source=source)
    query = request.GET.get("query", "").strip()
    position = 0
    while position < len(query):
        match = QUERY_TERM.match(query, position)
        condition = _term(match.group(1).lower(), match.group(3) if match.group(3) is not None
                          else match.group(2)) if match else None
        if condition is None:
            raise Invalid("query", f"Can not understand the query at {query[position:position + 40]!r}. {QUERY_HELP}")
        incidents = incidents.filter(condition)
        position = match.end()
        joiner = QUERY_AND.match(query, position)
        if joiner:
            position = joiner.end()
    return incidents


def query_integer(request, name, default, low, high):
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise Invalid(name, f"{name.capitalize()} should be a number from {low} to {high}.")
    return int(raw)


def page_link(request, offset, limit):
    params = {k: v for k, v in request.GET.items() if k not in ("offset", "limit")}
    return request.build_absolute_uri(f"{request.path}?{urlencode({**params, 'offset': offset, 'limit': limit})}")
