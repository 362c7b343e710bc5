"""Grafana alerting webhook contact point, both shapes, told apart by `version`:

    POST /integrations/grafana/<key>   (or /integrations/grafana with `Authorization: Bearer <key>`
                                        or basic auth with the key as password)

- **Unified alerting** (Grafana 8+, `"version": "1"`): Alertmanager-like, one incident per alert
  `fingerprint` (option `{"group_by": "groupKey"}`: one per notification group, summary = `title`).
  Per alert: status firing → ALERT, resolved → RESOLVE; summary from `annotations.summary`, else
  `labels.alertname` + instance; `values`/`valueString` kept in custom details; `dashboardURL`,
  `panelURL`, `silenceURL`, `generatorURL` become links, `imageURL` an image.
- **Legacy alerting** (no `version`; `ruleId`, `ruleName`, `state`, `evalMatches`): one incident
  per rule (`grafana-<orgId>-<ruleId>`); state alerting → ALERT, no_data → ALERT (summary marked
  "[No Data]"), ok → RESOLVE, paused/pending/unknown → ignored (202, EVENT_IGNORED).

Answer: 202 {"alerts": [{"fingerprint", "incidentKey", "incidentId", "responseCode"}, …]}.
"""

from django.http import JsonResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ilert.dashboard import token_addressed

from ..ingest import EventType, InboundEvent, ResponseCode
from . import alertmanager, base
from .spec import InboundIntegration

NAME = "grafana"

LEGACY_STATES = {"alerting": EventType.ALERT, "no_data": EventType.ALERT, "ok": EventType.RESOLVE}
LEGACY_IGNORED = {"paused", "pending", "unknown"}
NO_DATA = "[No Data]"


def _identifier(data, name, *, required=False):
    """A legacy id (ruleId, orgId, dashboardId, panelId): a whole number, or a non-blank string."""
    value = data.get(name)
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool) or isinstance(value, str) and value.strip():
        return value
    raise base.Reject(400, "Must be a number." if value is not None else "This field is required.", field=name)


def _eval_match(match, index):
    """One of a legacy alert's evalMatches: {"metric": str, "value": number | null, "tags": {str: str} | null}."""
    field = f"evalMatches[{index}]"
    if not isinstance(match, dict):
        raise base.Reject(400, f"Must be an object, not {base.json_type(match)}.", field=field)
    value = match.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float | str | None):
        raise base.Reject(400, f"Must be a number, not {base.json_type(value)}.", field=f"{field}.value")
    return {"metric": base.text(match, "metric", field=f"{field}.metric"), "value": value,
            "tags": base.string_map(match, "tags", field=f"{field}.tags") or None}


def parse_unified(data, *, group_by="fingerprint"):
    alerts = alertmanager.alerts_of(data)
    # Every alert is checked in both modes, so the same payload is refused (or not) whatever the grouping.
    events = [_unified_event(alert, index) for index, alert in enumerate(alerts)]
    if group_by == "groupKey":
        title = base.text(data, "title").strip()
        event = alertmanager.group_event(data, alerts, via="grafana", summary=title)
        message = base.text(data, "message")
        if message:
            event.details = message
        return [event]
    return events


def _unified_event(alert, index):
    field = f"alerts[{index}]"
    extra = {}
    values = base.obj(alert, "values", field=f"{field}.values")
    if values:
        extra["values"] = {k[:120]: v for k, v in list(values.items())[:100]}
    value_string = base.text(alert, "valueString", field=f"{field}.valueString")
    if value_string:
        extra["valueString"] = value_string[:4000]
    event = alertmanager.alert_event(
        alert, index, via="grafana", extra_details=extra,
        extra_links=(("dashboardURL", "Dashboard"), ("panelURL", "Panel"), ("silenceURL", "Silence")),
    )
    image = base.text(alert, "imageURL", field=f"{field}.imageURL")
    if image:
        event.images = [{"src": image[:2000], "alt": event.summary[:200]}]
    if value_string:
        event.details = f"{event.details}\n\nValues: {value_string}".strip()
    return event


def parse_legacy(data):
    """One event, or None for states that change nothing (paused, pending, unknown)."""
    state = data.get("state")
    if not isinstance(state, str):
        raise base.Reject(400, "Must be one of alerting, ok, no_data, paused, pending.", field="state")
    if state in LEGACY_IGNORED:
        return None
    if state not in LEGACY_STATES:
        raise base.Reject(400, "Must be one of alerting, ok, no_data, paused, pending.", field="state")
    rule_id = _identifier(data, "ruleId", required=True)
    org_id = _identifier(data, "orgId") or 1
    rule_name = base.text(data, "ruleName", max_length=64 * 1024)
    title = base.text(data, "title", max_length=64 * 1024) or rule_name
    message = base.text(data, "message", max_length=256 * 1024)
    matches = data.get("evalMatches")
    if matches is not None and not isinstance(matches, list):
        raise base.Reject(400, f"Must be a list, not {base.json_type(matches)}.", field="evalMatches")
    matches = [_eval_match(match, index) for index, match in enumerate((matches or [])[:100])]
    lines = [message] if message else []
    for match in matches:
        value = match.get("value")
        lines.append(f"{match.get('metric', '')}: {'' if value is None else value}")
    links = []
    rule_url = base.text(data, "ruleUrl", max_length=2000)
    if rule_url:
        links.append({"href": rule_url, "text": "Grafana"})
    images = []
    image_url = base.text(data, "imageUrl", max_length=2000)
    if image_url:
        images.append({"src": image_url, "alt": title[:200]})
    summary = title or f"Grafana rule {rule_id}"
    if state == "no_data" and not summary.lower().startswith(NO_DATA.lower()):  # Grafana's own title has it
        summary = f"{NO_DATA} {summary}"
    panel = {name: _identifier(data, name) for name in ("dashboardId", "panelId")}
    return InboundEvent(
        event_type=LEGACY_STATES[state],
        summary=summary,
        details="\n".join(lines),
        incident_key=f"grafana-{org_id}-{rule_id}"[:255],
        links=links,
        images=images,
        custom_details={"evalMatches": matches, "ruleId": rule_id, "ruleName": rule_name or None, **panel,
                        "state": state},
        labels=base.labels(data, "tags"),
        via="grafana",
    )


def parse(data, *, group_by="fingerprint"):
    """The events of a unified or a legacy notification; None for a legacy state that changes nothing."""
    if data.get("version") is not None or "alerts" in data:
        return parse_unified(data, group_by=group_by)
    event = parse_legacy(data)
    return None if event is None else [event]


@token_addressed
@csrf_exempt
@require_POST
def receive(request, key=None):
    try:
        data = base.json_body(request)
        source = base.source_for(base.key_from_request(request, key), integration_types=[NAME],
                                 field="key", cost=0)
        events = parse(data, group_by=source.options.get("group_by", "fingerprint"))
        base.rate_limit(source.key_hash, "alerts", cost=max(1, len(events or ())))  # every event counts
        if events is None:  # a legacy state that changes nothing
            if not source.is_active:
                raise base.Reject(403, f"The alert source {source.name!r} is disabled.", code="source_disabled")
            return JsonResponse({"alerts": [{"fingerprint": None, "incidentKey": None, "incidentId": None,
                                             "responseCode": ResponseCode.EVENT_IGNORED}]}, status=202)
        results = base.ingest_all(source, events)
    except base.Reject as reject:
        return reject.response()
    return alertmanager.answer(events, results)


def setup(links):
    return {"grafana_url": links.keyed("alerts:grafana-key")}


def paste(source, site):
    key = source.integration_key
    return {"url": site + reverse("alerts:grafana-key", args=[key]), "key": key, "how": "webhook URL"}


INTEGRATION = InboundIntegration(
    name=NAME, label="Grafana", setup_template="alerts/integrations/grafana.html", setup=setup,
    parse=parse, paste=paste,
    # The same grouping option as Alertmanager's (unified alerting is Alertmanager-shaped).
    settings_form=alertmanager.GroupingSettings, clean_options=alertmanager.clean_options,
    urls=[path("integrations/grafana", receive, name="grafana"),
          path("integrations/grafana/<str:key>", receive, name="grafana-key")],
)
