"""How the Opsgenie-compatible API speaks: its answers and errors (Opsgenie's JSON shapes), the
decorator every endpoint wears, and the reading of request bodies (strings are strings, text is
text: a wrong type or a lone surrogate is Opsgenie's 422)."""

import time
import uuid
from functools import wraps

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ilert.dashboard import token_addressed

from ... import services
from ...ingest import EventType, InboundEvent
from ...models import Priority
from .. import base

PRIORITIES = {"P1": Priority.HIGH, "P2": Priority.HIGH, "P3": Priority.LOW, "P4": Priority.LOW, "P5": Priority.LOW}
NOTE_MAX = services.COMMENT_MAX  # a note is a comment (Opsgenie allows 25,000 characters; we keep 5,000)
TAGS_PER_REQUEST, TAG_MAX = 20, 50


class Invalid(base.Reject):
    def __init__(self, field, message):
        super().__init__(422, message, field=field)


class NotFound(base.Reject):
    def __init__(self, message="Alert does not exist"):
        super().__init__(404, message)


# --- answers -------------------------------------------------------------------------------------


def answer(status, body, started, request_id=None):
    return JsonResponse({**body, "took": round(time.monotonic() - started, 3),
                         "requestId": request_id or str(uuid.uuid4())}, status=status)


def error_answer(reject, started):
    if reject.status == 401 or (reject.status == 400 and reject.field == "GenieKey"):
        reject.status, reject.message = 401, "Could not authenticate"
    if reject.status == 429:
        reject.message = "You are making too many requests! To avoid errors, we recommend you limit requests."
    body = {"message": reject.message}
    if reject.status == 422:
        body = {"message": "Request body is not processable. Please check the errors.",
                "errors": {reject.field: reject.message}}
    return reject.response({**body, "took": round(time.monotonic() - started, 3), "requestId": str(uuid.uuid4())})


def opsgenie_endpoint(*methods):
    """An Opsgenie endpoint taking `methods`: every answer, errors included, is Opsgenie's JSON."""

    def decorate(view):
        @token_addressed  # the alert is addressed through the GenieKey's source, never a session
        @csrf_exempt
        @wraps(view)
        def endpoint(request, *args, **kwargs):
            started = time.monotonic()
            if request.method not in methods:
                message = f"{request.method} is not supported on this path; it takes {', '.join(methods)}."
                response = error_answer(base.Reject(405, message), started)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, started=started, **kwargs)
            except base.Reject as reject:
                return error_answer(reject, started)

        return endpoint

    return decorate


# --- reading a body: strings are strings, and text is text --------------------------------------


def read_body(request, *, optional=False):
    try:
        return base.json_body(request)
    except base.Reject as reject:  # 413 stays; an optional body may be empty
        if optional and reject.status == 400 and not request.body.strip():
            return {}
        if reject.status == 400 and reject.field:  # a field that is not text (a lone surrogate): Opsgenie says 422
            raise Invalid(reject.field, reject.message) from None
        raise


def text_field(data, name, *, required=False, max_length=None):
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise Invalid(name, f"{name.capitalize()} can not be empty.")
        return ""
    if not isinstance(value, str):
        raise Invalid(name, f"{name.capitalize()} must be a string.")
    if required and not value.strip():
        raise Invalid(name, f"{name.capitalize()} can not be empty.")
    if max_length and len(value) > max_length:
        raise Invalid(name, f"{name.capitalize()} can not be longer than {max_length} characters.")
    return value


def string_list(data, name, *, max_items=None, max_length=None):
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Invalid(name, f"{name.capitalize()} must be a list of strings.")
    if max_items and len(value) > max_items:
        raise Invalid(name, f"{name.capitalize()} can have at most {max_items} items.")
    if max_length and any(len(item) > max_length for item in value):
        raise Invalid(name, f"Each of {name} can be at most {max_length} characters long.")
    return value


def details_of(data):
    value = data.get("details")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("details", "Details must be an object of string keys and values.")
    for key, item in value.items():
        if not isinstance(item, str):
            raise Invalid(f"details.{key}", "Details values must be strings.")
    return value


def check_objects(data, name):
    """Fields we accept but do not use (responders, visibleTo): still of the right shape."""
    value = data.get(name)
    if value is not None and (not isinstance(value, list) or not all(isinstance(item, dict) for item in value)):
        raise Invalid(name, f"{name.capitalize()} must be a list of objects.")


def requester(data):
    """Who asked (Opsgenie's free-text "user" and "source"), kept as labels of the event."""
    return {name: text_field(data, name, max_length=512)[:500] for name in ("user", "source") if data.get(name)}


def parse_create(data):
    message = text_field(data, "message", required=True, max_length=64 * 1024)
    alias = text_field(data, "alias", max_length=512)
    description = text_field(data, "description", max_length=64 * 1024)
    priority = data.get("priority")
    if priority is not None and (not isinstance(priority, str) or priority not in PRIORITIES):
        raise Invalid("priority", "Priority should be one of [P1, P2, P3, P4, P5].")
    details = details_of(data)
    tags = string_list(data, "tags")
    string_list(data, "actions")
    for name in ("responders", "visibleTo"):
        check_objects(data, name)
    labels = requester(data)
    entity = text_field(data, "entity", max_length=512)
    if entity:
        labels["entity"] = entity[:500]
    if tags:
        labels["tags"] = ", ".join(tags[:50])[:500]
    note = text_field(data, "note", max_length=25000)
    custom = {str(k)[:120]: v for k, v in list(details.items())[:100]}
    if tags:
        custom["tags"] = tags[:50]
    if priority:
        custom["opsgenie_priority"] = priority
    key = base.short_key(alias.strip())
    if key != alias.strip():
        custom["opsgenie_alias"] = alias.strip()  # reads answer with the alias that was sent
    details_text = description + (f"\n\nNote: {note}" if note else "")
    return InboundEvent(
        event_type=EventType.ALERT, summary=message, details=details_text, incident_key=key,
        priority=PRIORITIES.get(priority) if priority else None, custom_details=custom, labels=labels, via="opsgenie",
    )
