"""Opsgenie-compatible Alert API, for tools that used to send to Opsgenie (which is shutting down).

Base URL `<SITE_URL>/integrations/opsgenie/` (Opsgenie's own is https://api.opsgenie.com/), the
integration key as `Authorization: GenieKey <key>`:

- `POST v2/alerts` {"message" (required), "alias" (de-duplication key), "description", "priority":
  "P1".."P5" (P1/P2 → HIGH, P3–P5 → LOW; absent → the source's default), "details" {}, "tags" [],
  "source", "entity", "user", "note"} opens or appends to an incident;
- `POST v2/alerts/{alias}/close?identifierType=alias` resolves, and
  `POST v2/alerts/{alias}/acknowledge?identifierType=alias` accepts, the open incident with that
  alias (body optional: {"user", "source", "note"}).

Answers like Opsgenie: 202 {"result": "Request will be processed", "took", "requestId"}; errors
{"message", "took", "requestId"} (422 with "errors" {field: message} for invalid fields, 401 for
a missing or unknown key, 429 with Retry-After when rate-limited).
"""

import time
import uuid

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ilert.dashboard import token_addressed

from ..ingest import EventType, InboundEvent
from ..models import Integration, Priority
from . import base

PRIORITIES = {"P1": Priority.HIGH, "P2": Priority.HIGH, "P3": Priority.LOW, "P4": Priority.LOW, "P5": Priority.LOW}


class Invalid(base.Reject):
    def __init__(self, field, message):
        super().__init__(422, message, field=field)


def _text(data, name, *, required=False, max_length=None):
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise Invalid(name, f"{name.capitalize()} can not be empty.")
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Invalid(name, f"{name.capitalize()} must be a string.")
    if required and not value.strip():
        raise Invalid(name, f"{name.capitalize()} can not be empty.")
    if max_length and len(value) > max_length:
        raise Invalid(name, f"{name.capitalize()} can not be longer than {max_length} characters.")
    return value


def parse_create(data):
    message = _text(data, "message", required=True, max_length=64 * 1024)
    alias = _text(data, "alias", max_length=512)
    description = _text(data, "description", max_length=64 * 1024)
    priority = data.get("priority")
    if priority is not None and (not isinstance(priority, str) or priority not in PRIORITIES):
        raise Invalid("priority", "Priority should be one of [P1, P2, P3, P4, P5].")
    details = data.get("details")
    if details is not None and not isinstance(details, dict):
        raise Invalid("details", "Details must be an object of string keys and values.")
    tags = data.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise Invalid("tags", "Tags must be a list of strings.")
    labels = {}
    for name in ("source", "entity", "user"):
        value = _text(data, name, max_length=512)
        if value:
            labels[name] = value[:500]
    if tags:
        labels["tags"] = ", ".join(tags[:50])[:500]
    note = _text(data, "note", max_length=25000)
    custom = {str(k)[:120]: v for k, v in list((details or {}).items())[:100]}
    if tags:
        custom["tags"] = tags[:50]
    if priority:
        custom["opsgenie_priority"] = priority
    details_text = description + (f"\n\nNote: {note}" if note else "")
    return InboundEvent(
        event_type=EventType.ALERT, summary=message, details=details_text, incident_key=base.short_key(alias.strip()),
        priority=PRIORITIES.get(priority) if priority else None, custom_details=custom, labels=labels, via="opsgenie",
    )


def _optional_json(request):
    raw = request.body
    if not raw.strip():
        return {}
    return base.json_body(request)


def _answer(status, body, started):
    return JsonResponse({**body, "took": round(time.monotonic() - started, 3), "requestId": str(uuid.uuid4())},
                        status=status)


def _error(reject, started):
    if reject.status == 404 or (reject.status == 400 and reject.field == "GenieKey"):
        reject.status = 401
        reject.message = "Could not authenticate"
    if reject.status == 429:
        reject.message = "You are making too many requests! To avoid errors, we recommend you limit requests."
    body = {"message": reject.message}
    if reject.status == 422:
        body = {"message": "Request body is not processable. Please check the errors.",
                "errors": {reject.field: reject.message}}
    return reject.response({**body, "took": round(time.monotonic() - started, 3), "requestId": str(uuid.uuid4())})


def _source(request):
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() != "geniekey" or not key.strip():
        raise base.Reject(400, "Missing GenieKey authorization", field="GenieKey")
    return base.source_for(key.strip(), integration_types=[Integration.OPSGENIE], field="GenieKey")


@csrf_exempt
@require_POST
def create_alert(request):
    started = time.monotonic()
    try:
        data = base.json_body(request)
        event = parse_create(data)
        source = _source(request)
        base.ingest_all(source, [event])
    except base.Reject as reject:
        return _error(reject, started)
    return _answer(202, {"result": "Request will be processed"}, started)


def _act(request, identifier, event_type):
    started = time.monotonic()
    try:
        identifier_type = request.GET.get("identifierType", "id")
        if identifier_type != "alias":
            raise Invalid("identifierType", "Only identifierType=alias is supported: close and acknowledge by alias.")
        if not identifier.strip() or len(identifier) > 512:
            raise Invalid("identifier", "Identifier must be an alias of 1 to 512 characters.")
        data = _optional_json(request)
        note = _text(data, "note", max_length=25000)
        labels = {name: _text(data, name, max_length=512)[:500] for name in ("user", "source") if data.get(name)}
        event = InboundEvent(event_type=event_type, incident_key=base.short_key(identifier.strip()), details=note,
                             labels=labels, via="opsgenie")
        source = _source(request)
        base.ingest_all(source, [event])
    except base.Reject as reject:
        return _error(reject, started)
    return _answer(202, {"result": "Request will be processed"}, started)


@token_addressed
@csrf_exempt
@require_POST
def close_alert(request, identifier):
    return _act(request, identifier, EventType.RESOLVE)


@token_addressed
@csrf_exempt
@require_POST
def acknowledge_alert(request, identifier):
    return _act(request, identifier, EventType.ACCEPT)
