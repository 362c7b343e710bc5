"""Opsgenie-compatible Alert API, for tools and scripts that used to talk to Opsgenie (which is
shutting down), including Opsgenie's own SDK. Base URL `<SITE_URL>/integrations/opsgenie`
(Opsgenie's is https://api.opsgenie.com), the integration key of an Opsgenie-type alert source as
`Authorization: GenieKey <key>`. An Opsgenie alert is one of our incidents: its id is the
incident's id, its tinyId the incident number, its alias the incident key.

Writes (202 {"result": "Request will be processed", "took", "requestId"}, done before answering):
- `POST v2/alerts` {"message" (required), "alias", "description", "priority" P1..P5 (P1/P2 → HIGH,
  P3–P5 → LOW; absent → the source's default), "details" {string: string}, "tags" [string],
  "source", "entity", "user", "note"} opens or appends to an incident (alerts.services.ingest);
- `POST v2/alerts/{identifier}/acknowledge` and `/close` accept and resolve; `/notes` {"note"}
  comments on the incident; `/tags` {"tags"} adds tags (bodies may also carry "user", "source";
  acknowledge, close and tags a "note"). `identifierType` is `id` (default), `tiny` or `alias`;
  by alias, acknowledge and close are events of that key, as Opsgenie's integrations send them.

Reads (only the incidents of the key's own alert source; anything else is 404 like unknown):
- `GET v2/alerts/{identifier}?identifierType=…` {"data": alert}; `GET v2/alerts?query=&offset=
  &limit=&sort=&order=` {"data": [alert], "paging"}; `GET v2/alerts/count?query=` {"data":
  {"count"}}; `GET v2/alerts/requests/{requestId}` {"data": {"isSuccess", "status", "alertId",
  …}}, what a write did (the requestId is signed and carries the outcome: nothing is stored).

Errors are Opsgenie's {"message", "took", "requestId"}: 401 for a missing or unknown key, 404
for a key of another source type (with a message naming it), an alert or request not found, or an
operation we do not offer (every other path under the prefix), 405 for a method a path does not
take, 400 for malformed JSON, 422 {"errors": {field: reason}} for a field of the wrong type or
size or with a lone surrogate (e.g. "\\ud800": not text), 429 with Retry-After when rate-limited.
"""

import re
import time
import uuid
from datetime import UTC, datetime
from functools import wraps

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import F, Q
from django.http import JsonResponse
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt

from ilert import clock, ratelimit
from ilert.dashboard import token_addressed
from ilert.errors import DomainError

from .. import selectors, services
from ..ingest import EventType, InboundEvent
from ..models import Incident, Integration, Priority
from . import base

PRIORITIES = {"P1": Priority.HIGH, "P2": Priority.HIGH, "P3": Priority.LOW, "P4": Priority.LOW, "P5": Priority.LOW}
NOTE_MAX = services.COMMENT_MAX  # a note is a comment (Opsgenie allows 25,000 characters; we keep 5,000)
TAGS_PER_REQUEST, TAG_MAX = 20, 50
REQUEST_SALT = "alerts.opsgenie.request"
REQUEST_MAX_AGE = 7 * 24 * 3600  # how long GET v2/alerts/requests/{requestId} answers
ACTIONS = {"Create": "Created alert", "Acknowledge": "Acknowledged alert", "Close": "Closed alert",
           "AddNote": "Added note", "AddTags": "Added tags"}


class Invalid(base.Reject):
    def __init__(self, field, message):
        super().__init__(422, message, field=field)


class NotFound(base.Reject):
    def __init__(self, message="Alert does not exist"):
        super().__init__(404, message)


# --- answers -------------------------------------------------------------------------------------


def _answer(status, body, started, request_id=None):
    return JsonResponse({**body, "took": round(time.monotonic() - started, 3),
                         "requestId": request_id or str(uuid.uuid4())}, status=status)


def _error(reject, started):
    if reject.status == 401 or (reject.status == 400 and reject.field == "GenieKey"):
        reject.status, reject.message = 401, "Could not authenticate"
    if reject.status == 429:
        reject.message = "You are making too many requests! To avoid errors, we recommend you limit requests."
    body = {"message": reject.message}
    if reject.status == 422:
        body = {"message": "Request body is not processable. Please check the errors.",
                "errors": {reject.field: reject.message}}
    return reject.response({**body, "took": round(time.monotonic() - started, 3), "requestId": str(uuid.uuid4())})


def _opsgenie(*methods):
    """An Opsgenie endpoint taking `methods`: every answer, errors included, is Opsgenie's JSON."""

    def decorate(view):
        @token_addressed  # the alert is addressed through the GenieKey's source, never a session
        @csrf_exempt
        @wraps(view)
        def endpoint(request, *args, **kwargs):
            started = time.monotonic()
            if request.method not in methods:
                response = _error(base.Reject(405, f"{request.method} is not supported on this path; it takes "
                                                   f"{', '.join(methods)}."), started)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, started=started, **kwargs)
            except base.Reject as reject:
                return _error(reject, started)

        return endpoint

    return decorate


# --- reading a body: strings are strings, and text is text --------------------------------------


def _body(request, *, optional=False):
    try:
        return base.json_body(request)
    except base.Reject as reject:  # 413 stays; an optional body may be empty
        if optional and reject.status == 400 and not request.body.strip():
            return {}
        if reject.status == 400 and reject.field:  # a field that is not text (a lone surrogate): Opsgenie says 422
            raise Invalid(reject.field, reject.message) from None
        raise


def _text(data, name, *, required=False, max_length=None):
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


def _strings(data, name, *, max_items=None, max_length=None):
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


def _details(data):
    value = data.get("details")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("details", "Details must be an object of string keys and values.")
    for key, item in value.items():
        if not isinstance(item, str):
            raise Invalid(f"details.{key}", "Details values must be strings.")
    return value


def _objects(data, name):
    """Fields we accept but do not use (responders, visibleTo): still of the right shape."""
    value = data.get(name)
    if value is not None and (not isinstance(value, list) or not all(isinstance(item, dict) for item in value)):
        raise Invalid(name, f"{name.capitalize()} must be a list of objects.")


def _requester(data):
    """Who asked (Opsgenie's free-text "user" and "source"), kept as labels of the event."""
    return {name: _text(data, name, max_length=512)[:500] for name in ("user", "source") if data.get(name)}


def parse_create(data):
    message = _text(data, "message", required=True, max_length=64 * 1024)
    alias = _text(data, "alias", max_length=512)
    description = _text(data, "description", max_length=64 * 1024)
    priority = data.get("priority")
    if priority is not None and (not isinstance(priority, str) or priority not in PRIORITIES):
        raise Invalid("priority", "Priority should be one of [P1, P2, P3, P4, P5].")
    details = _details(data)
    tags = _strings(data, "tags")
    _strings(data, "actions")
    for name in ("responders", "visibleTo"):
        _objects(data, name)
    labels = _requester(data)
    entity = _text(data, "entity", max_length=512)
    if entity:
        labels["entity"] = entity[:500]
    if tags:
        labels["tags"] = ", ".join(tags[:50])[:500]
    note = _text(data, "note", max_length=25000)
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


# --- who is asking --------------------------------------------------------------------------------


def _source(request):
    """The Opsgenie alert source of the request's GenieKey; Reject(401) when there is none, 404
    (naming the type) for a key of another source type."""
    scheme, _, key = request.headers.get("Authorization", "").strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "geniekey" or not key:
        raise base.Reject(401, "Missing GenieKey authorization", field="GenieKey")
    source = selectors.source_for_key(key)
    if source is None:
        raise base.Reject(401, "Could not authenticate")
    if source.integration_type != Integration.OPSGENIE:
        raise base.wrong_source_type(source)
    return source


def _limit_reads(source):
    """Reads have their own budget (INGEST_RATE_LIMIT again), so a polling script cannot use up
    the events of its key."""
    wait = ratelimit.hit(settings.INGEST_RATE_LIMIT, "opsgenie-reads", source.key_hash)
    if wait:
        raise base.Reject(429, "Too many requests.", headers={"Retry-After": str(wait)})


def _writable(source):
    if not source.is_active:
        raise base.Reject(403, f"The alert source {source.name!r} is disabled.")
    base.rate_limit(source.key_hash)


# --- which alert ------------------------------------------------------------------------------------


def _identifier_type(request):
    value = request.GET.get("identifierType", "id")
    if value not in ("id", "tiny", "alias"):
        raise Invalid("identifierType", "identifierType should be one of [id, tiny, alias].")
    return value


def _alert_of(source, identifier, identifier_type):
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


def _request_id(source, action, *, incident=None, alias="", failure=""):
    """A compact signed record of what the request did: [source, action, alert id, when (ms)],
    plus [why not, alias] when it did not succeed."""
    record = [source.pk, action, incident.pk if incident else None, int(clock.now().timestamp() * 1000)]
    if failure:
        record += [failure, "" if incident else alias[:255]]
    return signing.dumps(record, salt=REQUEST_SALT, compress=True)


def _read_request_id(source, request_id):
    try:
        record = signing.loads(request_id, salt=REQUEST_SALT, max_age=REQUEST_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        record = None
    if not isinstance(record, list) or len(record) not in (4, 6) or record[0] != source.pk:
        raise NotFound("Request not found. It might not be processed, yet.")
    return record


def _accepted(source, started, action, **outcome):
    return _answer(202, {"result": "Request will be processed"}, started, _request_id(source, action, **outcome))


# --- the alert, as Opsgenie shows it ---------------------------------------------------------------


def _time(value):
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def _name(user):
    return user.display_name if user is not None else ""


def _alias(incident):
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


def _as_alert(incident, *, full=False):
    labels = incident.labels or {}
    source = incident.alert_source
    updated = max(t for t in (incident.created_at, incident.last_event_at, incident.accepted_at,
                              incident.resolved_at) if t)
    alert = {
        "id": str(incident.pk), "tinyId": str(incident.number), "alias": _alias(incident),
        "message": incident.summary, "status": "open" if incident.is_open else "closed",
        "acknowledged": incident.accepted_at is not None, "isSeen": incident.accepted_at is not None,
        "tags": services.tags_of(incident), "snoozed": False, "count": incident.event_count,
        "lastOccurredAt": _time(incident.last_event_at), "createdAt": _time(incident.created_at),
        "updatedAt": _time(updated), "source": labels.get("source") or source.name,
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


def _search(source, request):
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


def _integer(request, name, default, low, high):
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise Invalid(name, f"{name.capitalize()} should be a number from {low} to {high}.")
    return int(raw)


def _page_link(request, offset, limit):
    params = {k: v for k, v in request.GET.items() if k not in ("offset", "limit")}
    return request.build_absolute_uri(f"{request.path}?{urlencode({**params, 'offset': offset, 'limit': limit})}")


# --- endpoints ------------------------------------------------------------------------------------


@_opsgenie("GET", "POST")
def alerts(request, *, started):
    """POST: create an alert; GET: list alerts."""
    source = _source(request)
    if request.method == "POST":
        event = parse_create(_body(request))
        _writable(source)
        (result,) = base.ingest_all(source, [event])
        return _accepted(source, started, "Create", incident=result.incident)
    _limit_reads(source)
    offset = _integer(request, "offset", 0, 0, 20000)
    limit = _integer(request, "limit", 20, 1, 100)
    sort = request.GET.get("sort") or "createdAt"
    order = request.GET.get("order") or "desc"
    if sort not in SORTS:
        raise Invalid("sort", f"Sort should be one of [{', '.join(SORTS)}].")
    if order not in ("asc", "desc"):
        raise Invalid("order", "Order should be one of [asc, desc].")
    sign = "-" if order == "desc" else ""
    found = _search(source, request)
    total = found.count()
    page = list(found.select_related("alert_source", "accepted_by", "resolved_by", "assigned_to")
                .order_by(f"{sign}{SORTS[sort]}", f"{sign}id")[offset:offset + limit])
    paging = {"first": _page_link(request, 0, limit)}
    if offset + limit < total:
        paging["next"] = _page_link(request, offset + limit, limit)
    if offset > 0:
        paging["prev"] = _page_link(request, max(0, offset - limit), limit)
    paging["last"] = _page_link(request, max(0, (total - 1) // limit * limit), limit)
    return _answer(200, {"data": [_as_alert(incident) for incident in page], "paging": paging}, started)


@_opsgenie("GET")
def count_alerts(request, *, started):
    source = _source(request)
    _limit_reads(source)
    return _answer(200, {"data": {"count": _search(source, request).count()}}, started)


@_opsgenie("GET")
def request_status(request, request_id, *, started):
    source = _source(request)
    _limit_reads(source)
    _source_pk, action, alert_id, at, *failed = _read_request_id(source, request_id)
    failure, alias = failed or ("", "")
    if alert_id:
        incident = Incident.objects.filter(pk=alert_id, alert_source=source).only("incident_key",
                                                                                  "custom_details").first()
        alias = _alias(incident) if incident is not None else alias
    return _answer(200, {"data": {
        "success": not failure, "action": action, "processedAt": _time(datetime.fromtimestamp(at / 1000, tz=UTC)),
        "integrationId": str(source.pk), "isSuccess": not failure, "status": failure or ACTIONS.get(action, ""),
        "alertId": str(alert_id or ""), "alias": alias,
    }}, started)


def _get_alert(request, identifier, *, started):
    source = _source(request)
    _limit_reads(source)
    incident = _alert_of(source, identifier, _identifier_type(request))
    return _answer(200, {"data": _as_alert(incident, full=True)}, started)


get_alert = _opsgenie("GET")(_get_alert)
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@_opsgenie(*ALL_METHODS)
def get_alert_or_unsupported(request, identifier, *, started):
    """v2/alerts/<something with "/">: an alias with "/" to GET, else an operation we do not
    offer (POST …/snooze, …/escalate): 404, not 405."""
    if request.method == "GET":
        return _get_alert(request, identifier, started=started)
    return _unsupported(request, f"v2/alerts/{identifier}", started=started)


def _act(request, identifier, event_type, started):
    """Acknowledge or close. By alias: an ACCEPT/RESOLVE event of that key (what Opsgenie's
    integrations send, e.g. Alertmanager); by id or tiny id: that incident."""
    action = "Acknowledge" if event_type == EventType.ACCEPT else "Close"
    source = _source(request)
    identifier_type = _identifier_type(request)
    if not identifier.strip() or len(identifier) > 512:
        raise Invalid("identifier", "Identifier must be 1 to 512 characters long.")
    data = _body(request, optional=True)
    note = _text(data, "note", max_length=25000 if identifier_type == "alias" else NOTE_MAX).strip()
    labels = _requester(data)
    _writable(source)
    if identifier_type == "alias":
        key = base.short_key(identifier.strip())
        (result,) = base.ingest_all(source, [InboundEvent(event_type=event_type, incident_key=key, details=note,
                                                          labels=labels, via="opsgenie")])
        if result.incident is None:
            return _accepted(source, started, action, alias=identifier.strip(), failure="Alert does not exist")
        return _accepted(source, started, action, incident=result.incident)
    incident = _alert_of(source, identifier, identifier_type)
    try:
        with transaction.atomic():
            if event_type == EventType.ACCEPT:
                services.accept(incident, via="opsgenie")
            else:
                services.resolve(incident, via="opsgenie")
            if note:
                services.comment(incident, _signed(note, labels), by=None, via="opsgenie")
    except DomainError as exc:  # e.g. acknowledging a closed alert: processed, but not a success
        return _accepted(source, started, action, incident=incident, failure=exc.message)
    return _accepted(source, started, action, incident=incident)


def _signed(note, labels):
    """A note as a comment: who sent it (Opsgenie's free-text "user") goes with it."""
    return f"{labels['user']}: {note}" if labels.get("user") else note


@_opsgenie("POST")
def close_alert(request, identifier, *, started):
    return _act(request, identifier, EventType.RESOLVE, started)


@_opsgenie("POST")
def acknowledge_alert(request, identifier, *, started):
    return _act(request, identifier, EventType.ACCEPT, started)


@_opsgenie("POST")
def add_note(request, identifier, *, started):
    source = _source(request)
    identifier_type = _identifier_type(request)
    data = _body(request)
    note = _text(data, "note", required=True, max_length=NOTE_MAX)
    labels = _requester(data)
    _writable(source)
    incident = _alert_of(source, identifier, identifier_type)
    try:
        services.comment(incident, _signed(note, labels), by=None, via="opsgenie")
    except DomainError as exc:
        raise base.reject_domain_error(exc) from None
    return _accepted(source, started, "AddNote", incident=incident)


@_opsgenie("POST")
def add_tags(request, identifier, *, started):
    source = _source(request)
    identifier_type = _identifier_type(request)
    data = _body(request)
    tags = [tag.strip() for tag in _strings(data, "tags", max_items=TAGS_PER_REQUEST, max_length=TAG_MAX)]
    if not tags or not all(tags):
        raise Invalid("tags", "Tags must be a list of 1 to 20 non-empty strings.")
    note = _text(data, "note", max_length=NOTE_MAX).strip()
    labels = _requester(data)
    _writable(source)
    incident = _alert_of(source, identifier, identifier_type)
    with transaction.atomic():
        services.add_tags(incident, tags, via="opsgenie")
        if note:
            services.comment(incident, _signed(note, labels), by=None, via="opsgenie")
    return _accepted(source, started, "AddTags", incident=incident)


def _unsupported(request, rest="", *, started):
    """Every other path under the prefix: an Opsgenie-shaped 404, so clients raise their own
    exception (the SDK's ApiException) instead of failing to parse an HTML page."""
    return _error(base.Reject(404, f"{request.method} /{rest} is not offered by this Opsgenie-compatible API. "
                                   "It offers the alert calls: create, get, list, count, acknowledge, close, "
                                   "notes, tags and request status."), started)


unsupported = _opsgenie(*ALL_METHODS)(_unsupported)
