"""PagerDuty Events API v2-compatible: POST /integrations/pagerduty/v2/enqueue.

Point any tool that speaks PagerDuty's Events API v2 at the base URL
`<SITE_URL>/integrations/pagerduty` (PagerDuty's own is https://events.pagerduty.com) with our
integration key as `routing_key` (or in an `X-Routing-Key` header).

{"routing_key", "event_action": "trigger"|"acknowledge"|"resolve", "dedup_key",
 "payload": {"summary", "source", "severity": "critical"|"error"|"warning"|"info", "timestamp",
             "component", "group", "class", "custom_details"},
 "images": [{"src","href","alt"}], "links": [{"href","text"}], "client", "client_url"}

Answers exactly as PagerDuty does: 202 {"status": "success", "message": "Event processed",
"dedup_key"} (a trigger without dedup_key gets a generated one), 400 {"status": "invalid event",
"message": "Event object is invalid", "errors": [...]}, 429 with Retry-After when rate-limited.
critical/error → HIGH, warning/info → LOW.

Change events, POST /integrations/pagerduty/v2/change/enqueue (PagerDuty's /v2/change/enqueue),
with the same routing key: {"routing_key", "payload": {"summary" (required, ≤1024), "source",
"timestamp", "custom_details"}, "links": [{"href", "text"}]}. A change pages nobody; it is kept for
90 days and shown beside the source's incidents opened around it. Answers 202 {"status":
"success", "message": "Change event processed", "id"}, and errors as above.
"""

import json
from datetime import UTC, timedelta

from django.http import JsonResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ilert import clock
from ilert.errors import DomainError

from .. import services
from ..ingest import EventType, InboundEvent
from ..models import ChangeEvent, Priority
from . import base
from .spec import InboundIntegration

NAME = "pagerduty"

ACTIONS = {"trigger": EventType.ALERT, "acknowledge": EventType.ACCEPT, "resolve": EventType.RESOLVE}
SEVERITIES = {"critical": Priority.HIGH, "error": Priority.HIGH, "warning": Priority.LOW, "info": Priority.LOW}
CLOCK_SKEW = timedelta(days=1)


def _string(data, name, errors, path=None):
    """A string field or None when absent; another JSON type is an error (never coerced)."""
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    errors.append(f"'{path or name}' must be a string")
    return None


def _blank(data, name):
    """Absent, null or blank (a value of another type is reported as that)."""
    value = data.get(name)
    return value is None or isinstance(value, str) and not value.strip()


def _context(data, name, required_key, keys, errors):
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(f"'{name}' must be an array")
        return []
    out = []
    for index, item in enumerate(value[:50]):
        if not isinstance(item, dict) or not isinstance(item.get(required_key), str):
            errors.append(f"'{name}[{index}].{required_key}' is missing or not a string")
            continue
        for key in keys:
            _string(item, key, errors, f"{name}[{index}].{key}")
        out.append({k: item[k][:2000] for k in keys if isinstance(item.get(k), str)})
    return out


def _render_details(custom_details):
    """custom_details as readable text: strings as they are, anything else as JSON."""
    def show(value):
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    if isinstance(custom_details, dict):
        return "\n".join(f"{key}: {show(value)}" for key, value in custom_details.items())
    return "" if custom_details is None else show(custom_details)


def parse(data):
    """The event, or Reject(400) whose `errors` list PagerDuty-style messages (in the order of the fields)."""
    errors = []
    action, dedup_key = _action_and_key(data, errors)
    payload = data.get("payload")
    event = InboundEvent(event_type=ACTIONS.get(action, EventType.ALERT), incident_key=dedup_key, via="pagerduty")
    if action == "trigger" or payload is not None:
        _read_payload(event, payload, action, errors)
    event.images = _context(data, "images", "src", ("src", "href", "alt"), errors)
    event.links = _context(data, "links", "href", ("href", "text"), errors)
    client, client_url = _string(data, "client", errors), _string(data, "client_url", errors)
    if client_url:
        event.links.append({"href": client_url[:2000], "text": (client or "Client")[:2000]})
    if client:
        event.labels["client"] = client[:500]
    if errors:
        raise base.Reject(400, "; ".join(errors), errors=errors)
    return event


def _action_and_key(data, errors):
    action = data.get("event_action")
    if not isinstance(action, str) or action not in ACTIONS:
        action = None
        errors.append("'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')")
    dedup_key = _string(data, "dedup_key", errors) or ""
    if len(dedup_key) > 255:
        errors.append("'dedup_key' is too long (maximum 255 characters)")
    if action in ("acknowledge", "resolve") and not dedup_key.strip():
        errors.append("'dedup_key' is missing or blank")
    return action, dedup_key


def _read_payload(event, payload, action, errors):
    """The payload's summary, severity, labels and custom details into `event` (a trigger must
    carry summary, source and severity)."""
    trigger = action == "trigger"
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or not an object")
        payload = {}
    summary = _string(payload, "summary", errors, "payload.summary")
    if trigger and _blank(payload, "summary"):
        errors.append("'payload.summary' is missing or blank")
    source_name = _string(payload, "source", errors, "payload.source")
    if trigger and _blank(payload, "source"):
        errors.append("'payload.source' is missing or blank")
    severity = _string(payload, "severity", errors, "payload.severity")
    if trigger and isinstance(payload.get("severity"), str | None) and severity not in SEVERITIES:
        errors.append("'payload.severity' is invalid (must be one of the following: "
                      "'critical', 'warning', 'error' or 'info')")
    if summary is not None and len(summary) > 64 * 1024:
        errors.append("'payload.summary' is too long")
    labels = {"source": source_name, "severity": severity}
    for name in ("component", "group", "class", "timestamp"):
        labels[name] = _string(payload, name, errors, f"payload.{name}")
    custom = payload.get("custom_details")
    event.summary = summary or ""
    event.priority = SEVERITIES.get(severity) if trigger else None
    event.labels = {name: value[:500] for name, value in labels.items() if value}
    event.custom_details = custom if isinstance(custom, dict) else ({} if custom is None else {"details": custom})
    event.details = _render_details(custom)[: 256 * 1024]


INVALID = {"status": "invalid event", "message": "Event object is invalid"}


def _error(reject):
    if reject.status == 429:
        return reject.response({"status": "throttle exceeded",
                                "message": "Requests for this service are arriving too quickly. Please retry later."})
    if reject.status == 404 and reject.code == base.WRONG_SOURCE_TYPE:  # our answer (docs), PagerDuty's shape
        return reject.response({**INVALID, "errors": [reject.message]})
    if reject.status == 404:  # PagerDuty answers an unknown routing key with 400 "Invalid routing key"
        reject.status = 400
        return reject.response({**INVALID, "errors": ["Invalid routing key"]})
    return reject.response({**INVALID, "errors": reject.errors})


def _source(key):
    """The PagerDuty-type alert source of a routing key (alert and change events share it)."""
    return base.source_for(key, integration_types=[NAME], field="routing_key")


def _routing_key(data, request):
    key = data.get("routing_key") or request.headers.get("X-Routing-Key")
    if key is not None and not isinstance(key, str):
        raise base.Reject(400, "'routing_key' must be a string", errors=["'routing_key' must be a string"])
    if not key:
        raise base.Reject(400, "'routing_key' is missing or blank", errors=["'routing_key' is missing or blank"])
    return key


@csrf_exempt
@require_POST
def enqueue(request):
    try:
        data = base.json_body(request)
        key = _routing_key(data, request)
        event = parse(data)
        source = _source(key)
        (result,) = base.ingest_all(source, [event])
    except base.Reject as reject:
        return _error(reject)
    return JsonResponse({"status": "success", "message": "Event processed", "dedup_key": result.incident_key},
                        status=202)


def parse_change(data):
    """services.record_change's arguments for a change event, or Reject(400) listing every error."""
    payload = data.get("payload")
    if not isinstance(payload, dict):
        error = "'payload' is missing or not an object"
        raise base.Reject(400, error, errors=[error])
    errors = []
    summary = _string(payload, "summary", errors, "payload.summary") or ""
    if _blank(payload, "summary"):
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > 1024:
        errors.append("'payload.summary' is too long (maximum 1024 characters)")
    source_name = _string(payload, "source", errors, "payload.source")
    happened_at = None
    timestamp = payload.get("timestamp")
    if timestamp is not None:
        try:
            happened_at = parse_datetime(timestamp) if isinstance(timestamp, str) else None
        except ValueError:
            happened_at = None
        if happened_at is None:
            errors.append("'payload.timestamp' is not an ISO 8601 date and time")
        else:
            happened_at = happened_at if happened_at.tzinfo else happened_at.replace(tzinfo=UTC)
            now = clock.now()  # older changes are not kept; a sender's clock may run a little fast
            if not now - timedelta(days=ChangeEvent.RETENTION_DAYS) <= happened_at <= now + CLOCK_SKEW:
                errors.append(f"'payload.timestamp' must be within the last {ChangeEvent.RETENTION_DAYS} days")
    custom = payload.get("custom_details")
    if custom is not None and not isinstance(custom, dict):
        errors.append("'payload.custom_details' must be an object")
    links = _context(data, "links", "href", ("href", "text"), errors)
    if errors:
        raise base.Reject(400, "; ".join(errors), errors=errors)
    return {"summary": summary, "source_name": (source_name or "")[:255], "happened_at": happened_at,
            "custom_details": custom or {}, "links": links}


@csrf_exempt
@require_POST
def change_enqueue(request):
    try:
        data = base.json_body(request)
        key = _routing_key(data, request)
        change = parse_change(data)
        source = _source(key)
        try:
            recorded = services.record_change(source, **change)
        except DomainError as exc:
            raise base.reject_domain_error(exc) from None
    except base.Reject as reject:
        return _error(reject)
    return JsonResponse({"status": "success", "message": "Change event processed", "id": str(recorded.pk)},
                        status=202)


def setup(links):
    url = links.url("alerts:pagerduty")
    return {"pagerduty_base": url.removesuffix("/v2/enqueue"), "pagerduty_url": url,
            "pagerduty_change_url": links.url("alerts:pagerduty-change")}


def paste(source, site):
    return {"url": site + reverse("alerts:pagerduty"), "key": source.integration_key,
            "how": "routing_key / integration key"}


INTEGRATION = InboundIntegration(
    name=NAME, label="PagerDuty Events API v2", setup_template="alerts/integrations/pagerduty.html", setup=setup,
    parse=parse, paste=paste, panel_template="alerts/integrations/pagerduty_changes.html",
    urls=[path("integrations/pagerduty/v2/enqueue", enqueue, name="pagerduty"),
          path("integrations/pagerduty/v2/change/enqueue", change_enqueue, name="pagerduty-change")],
)
