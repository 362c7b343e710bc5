"""The Opsgenie-compatible endpoints (the module docstring of alerts.integrations.opsgenie says
what each does)."""

from datetime import UTC, datetime

from django.db import transaction

from ilert.errors import DomainError

from ... import services
from ...ingest import EventType, InboundEvent
from ...models import Incident
from .. import base
from .reads import (
    SORTS,
    alert_of,
    alias_of,
    as_alert,
    check_writable,
    identifier_type_of,
    iso_time,
    limit_reads,
    new_request_id,
    page_link,
    query_integer,
    read_request_id,
    search,
    source_of,
)
from .wire import (
    NOTE_MAX,
    TAG_MAX,
    TAGS_PER_REQUEST,
    Invalid,
    answer,
    error_answer,
    opsgenie_endpoint,
    parse_create,
    read_body,
    requester,
    string_list,
    text_field,
)

ACTIONS = {"Create": "Created alert", "Acknowledge": "Acknowledged alert", "Close": "Closed alert",
           "AddNote": "Added note", "AddTags": "Added tags"}

def _accepted(source, started, action, **outcome):
    return answer(202, {"result": "Request will be processed"}, started, new_request_id(source, action, **outcome))


# --- endpoints ------------------------------------------------------------------------------------


@opsgenie_endpoint("GET", "POST")
def alerts(request, *, started):
    """POST: create an alert; GET: list alerts."""
    source = source_of(request)
    if request.method == "POST":
        event = parse_create(read_body(request))
        check_writable(source)
        (result,) = base.ingest_all(source, [event])
        return _accepted(source, started, "Create", incident=result.incident)
    limit_reads(source)
    offset = query_integer(request, "offset", 0, 0, 20000)
    limit = query_integer(request, "limit", 20, 1, 100)
    sort = request.GET.get("sort") or "createdAt"
    order = request.GET.get("order") or "desc"
    if sort not in SORTS:
        raise Invalid("sort", f"Sort should be one of [{', '.join(SORTS)}].")
    if order not in ("asc", "desc"):
        raise Invalid("order", "Order should be one of [asc, desc].")
    sign = "-" if order == "desc" else ""
    found = search(source, request)
    total = found.count()
    page = list(found.select_related("alert_source", "accepted_by", "resolved_by", "assigned_to")
                .order_by(f"{sign}{SORTS[sort]}", f"{sign}id")[offset:offset + limit])
    paging = {"first": page_link(request, 0, limit)}
    if offset + limit < total:
        paging["next"] = page_link(request, offset + limit, limit)
    if offset > 0:
        paging["prev"] = page_link(request, max(0, offset - limit), limit)
    paging["last"] = page_link(request, max(0, (total - 1) // limit * limit), limit)
    return answer(200, {"data": [as_alert(incident) for incident in page], "paging": paging}, started)


@opsgenie_endpoint("GET")
def count_alerts(request, *, started):
    source = source_of(request)
    limit_reads(source)
    return answer(200, {"data": {"count": search(source, request).count()}}, started)


@opsgenie_endpoint("GET")
def request_status(request, request_id, *, started):
    source = source_of(request)
    limit_reads(source)
    _source_pk, action, alert_id, at, *failed = read_request_id(source, request_id)
    failure, alias = failed or ("", "")
    if alert_id:
        incident = Incident.objects.filter(pk=alert_id, alert_source=source).only("incident_key",
                                                                                  "custom_details").first()
        alias = alias_of(incident) if incident is not None else alias
    return answer(200, {"data": {
        "success": not failure, "action": action, "processedAt": iso_time(datetime.fromtimestamp(at / 1000, tz=UTC)),
        "integrationId": str(source.pk), "isSuccess": not failure, "status": failure or ACTIONS.get(action, ""),
        "alertId": str(alert_id or ""), "alias": alias,
    }}, started)


def _get_alert(request, identifier, *, started):
    source = source_of(request)
    limit_reads(source)
    incident = alert_of(source, identifier, identifier_type_of(request))
    return answer(200, {"data": as_alert(incident, full=True)}, started)


get_alert = opsgenie_endpoint("GET")(_get_alert)
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@opsgenie_endpoint(*ALL_METHODS)
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
    source = source_of(request)
    identifier_type = identifier_type_of(request)
    if not identifier.strip() or len(identifier) > 512:
        raise Invalid("identifier", "Identifier must be 1 to 512 characters long.")
    data = read_body(request, optional=True)
    note = text_field(data, "note", max_length=25000 if identifier_type == "alias" else NOTE_MAX).strip()
    labels = requester(data)
    check_writable(source)
    if identifier_type == "alias":
        key = base.short_key(identifier.strip())
        (result,) = base.ingest_all(source, [InboundEvent(event_type=event_type, incident_key=key, details=note,
                                                          labels=labels, via="opsgenie")])
        if result.incident is None:
            return _accepted(source, started, action, alias=identifier.strip(), failure="Alert does not exist")
        return _accepted(source, started, action, incident=result.incident)
    incident = alert_of(source, identifier, identifier_type)
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


@opsgenie_endpoint("POST")
def close_alert(request, identifier, *, started):
    return _act(request, identifier, EventType.RESOLVE, started)


@opsgenie_endpoint("POST")
def acknowledge_alert(request, identifier, *, started):
    return _act(request, identifier, EventType.ACCEPT, started)


@opsgenie_endpoint("POST")
def add_note(request, identifier, *, started):
    source = source_of(request)
    identifier_type = identifier_type_of(request)
    data = read_body(request)
    note = text_field(data, "note", required=True, max_length=NOTE_MAX)
    labels = requester(data)
    check_writable(source)
    incident = alert_of(source, identifier, identifier_type)
    try:
        services.comment(incident, _signed(note, labels), by=None, via="opsgenie")
    except DomainError as exc:
        raise base.reject_domain_error(exc) from None
    return _accepted(source, started, "AddNote", incident=incident)


@opsgenie_endpoint("POST")
def add_tags(request, identifier, *, started):
    source = source_of(request)
    identifier_type = identifier_type_of(request)
    data = read_body(request)
    tags = [tag.strip() for tag in string_list(data, "tags", max_items=TAGS_PER_REQUEST, max_length=TAG_MAX)]
    if not tags or not all(tags):
        raise Invalid("tags", "Tags must be a list of 1 to 20 non-empty strings.")
    note = text_field(data, "note", max_length=NOTE_MAX).strip()
    labels = requester(data)
    check_writable(source)
    incident = alert_of(source, identifier, identifier_type)
    with transaction.atomic():
        services.add_tags(incident, tags, via="opsgenie")
        if note:
            services.comment(incident, _signed(note, labels), by=None, via="opsgenie")
    return _accepted(source, started, "AddTags", incident=incident)


def _unsupported(request, rest="", *, started):
    """Every other path under the prefix: an Opsgenie-shaped 404, so clients raise their own
    exception (the SDK's ApiException) instead of failing to parse an HTML page."""
    return error_answer(base.Reject(404, f"{request.method} /{rest} is not offered by this Opsgenie-compatible API. "
                                   "It offers the alert calls: create, get, list, count, acknowledge, close, "
                                   "notes, tags and request status."), started)


unsupported = opsgenie_endpoint(*ALL_METHODS)(_unsupported)
