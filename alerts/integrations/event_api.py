"""The iLert-compatible Event API: POST /api/events (and /api/v1/events).

{"integrationKey": "...", "eventType": "ALERT"|"ACCEPT"|"RESOLVE", "summary": "...", "details": "...",
 "alertKey": "...", "priority": "HIGH"|"LOW", "images": [{"src","href","alt"}], "links": [{"href","text"}],
 "customDetails": {...}, "labels": {...}, "routingKey": "..."}
→ 202 {"alertKey", "incidentId", "incidentUrl", "responseCode"}, only after the event is committed.
`apiKey` is accepted for `integrationKey` and `incidentKey` for `alertKey`.
"""

from django.http import JsonResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ilert.errors import DomainError

from .. import selectors, services
from ..ingest import EventType, InboundEvent
from . import base
from .spec import InboundIntegration


def parse(data):
    event_type = base.text(data, "eventType", required=True).upper()
    if event_type not in EventType.ALL:
        raise base.Reject(400, "Must be ALERT, ACCEPT or RESOLVE.", field="eventType")
    priority = base.text(data, "priority").upper() or None
    if priority not in (None, "HIGH", "LOW"):
        raise base.Reject(400, "Must be HIGH or LOW.", field="priority")
    key_field = "alertKey" if "alertKey" in data else "incidentKey"
    return InboundEvent(
        event_type=event_type,
        summary=base.text(data, "summary", required=event_type == EventType.ALERT, max_length=64 * 1024),
        details=base.text(data, "details", max_length=256 * 1024),
        incident_key=base.text(data, key_field, max_length=255),
        priority=priority,
        images=base.items(data, "images", keys=("src", "href", "alt"), required_key="src"),
        links=base.items(data, "links", keys=("href", "text"), required_key="href"),
        custom_details=base.obj(data, "customDetails"),
        labels=base.labels(data, "labels"),
        routing_key=base.text(data, "routingKey", max_length=120),
        via="api",
    )


@csrf_exempt
@require_POST
def receive(request):
    try:
        data = base.json_body(request)
        key = data.get("integrationKey", data.get("apiKey", request.GET.get("integrationKey")))
        event = parse(data)
        source = base.source_for(key, cached=True)  # ingest checks it against its row
        try:
            result = services.ingest(source, event)
        except DomainError as exc:
            raise base.reject_domain_error(exc) from None
    except base.Reject as reject:
        return reject.response()
    body = {
        "alertKey": result.incident_key,
        "incidentId": result.incident.pk if result.incident else None,
        "incidentUrl": selectors.incident_url(result.incident) if result.incident else None,
        "responseCode": result.code,
    }
    return JsonResponse(body, status=202)


def setup(links):
    return {"events_url": links.url("alerts:events")}


def paste(source, site):
    return {"url": site + reverse("alerts:events"), "key": source.integration_key, "how": "Event API"}


INTEGRATION = InboundIntegration(
    name="api", label="Event API", setup_template="alerts/integrations/event_api.html", setup=setup, parse=parse,
    urls=[path("api/events", receive, name="events")], paste=paste,
)
