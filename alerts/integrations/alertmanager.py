"""Prometheus Alertmanager webhook (payload version 4).

    POST /integrations/alertmanager/<key>      (key in the URL path), or
    POST /integrations/alertmanager            with `Authorization: Bearer <key>` (Alertmanager's
                                               http_config.authorization) or basic auth (password)

One incident per alert `fingerprint` (the default), or, with the source option
`{"group_by": "groupKey"}`, one incident per Alertmanager group (`groupKey`). Per alert, `status`
firing → ALERT and resolved → RESOLVE (in groupKey mode the notification's own `status` counts).
Summary: `annotations.summary`, else `labels.alertname` + `labels.instance`. Details:
`annotations.description`/`message` and the other annotations. Labels are kept as the incident's
labels, annotations and the Alertmanager fields in custom details; `generatorURL` and
`annotations.runbook_url` become links. A `severity` (or `priority`) label critical/error/high/
page/P1/P2 → HIGH, warning/info/low/P3–P5 → LOW, otherwise the source's default priority.

Answer: 202 {"alerts": [{"fingerprint", "incidentKey", "incidentId", "responseCode"}, …]} after
every event of the notification is committed. Every alert is checked before the first is ingested,
so bad input (400) changes nothing.
"""

import hashlib

from django import forms
from django.http import JsonResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ilert.dashboard import token_addressed

from ..ingest import EventType, InboundEvent
from ..models import Priority
from . import base
from .settings_form import SettingsForm
from .spec import InboundIntegration

NAME = "alertmanager"

GROUP_BY = ("fingerprint", "groupKey")
MAX_ALERTS = 1000
HIGH = {"critical", "error", "high", "page", "p1", "p2", "disaster", "fatal"}
LOW = {"warning", "warn", "info", "information", "low", "none", "p3", "p4", "p5", "average", "minor"}


def clean_options(options, source=None):
    group_by = options.get("group_by", "fingerprint")
    if group_by not in GROUP_BY:
        raise base.DomainError("options.group_by must be 'fingerprint' or 'groupKey'.", field="options")
    return options


def _str_map(data, name, field):
    return base.string_map(data, name, field=field, max_items=200, value_length=2000)


def _opt_str(data, name, field):
    return base.text(data, name, field=field)


def priority_from(labels):
    for name in ("severity", "priority"):
        value = labels.get(name, "").strip().lower()
        if value in HIGH:
            return Priority.HIGH
        if value in LOW:
            return Priority.LOW
    return None


def summary_from(labels, annotations, default="Alert"):
    summary = annotations.get("summary", "").strip() or annotations.get("title", "").strip()
    if summary:
        return summary
    name, instance = labels.get("alertname", "").strip(), labels.get("instance", "").strip()
    if name and instance:
        return f"{name} on {instance}"
    return name or instance or default


def details_from(annotations, labels):
    lines = []
    for name in ("description", "message"):
        if annotations.get(name, "").strip():
            lines.append(annotations[name].strip())
    others = {k: v for k, v in annotations.items() if k not in ("summary", "description", "message")}
    if others:
        lines.append("\n".join(f"{k}: {v}" for k, v in others.items()))
    if labels:
        lines.append("Labels:\n" + "\n".join(f"  {k}={v}" for k, v in labels.items()))
    return "\n\n".join(lines)


def alerts_of(data):
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise base.Reject(400, "Must be a list of alerts.", field="alerts")
    if len(alerts) > MAX_ALERTS:
        raise base.Reject(400, f"At most {MAX_ALERTS} alerts per notification.", field="alerts")
    for index, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise base.Reject(400, "Each alert must be an object.", field=f"alerts[{index}]")
    return alerts


def alert_event(alert, index, *, via, extra_links=(), extra_details=None):
    """One alert of an Alertmanager-shaped notification (Alertmanager or Grafana unified alerting)."""
    field = f"alerts[{index}]"
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        raise base.Reject(400, "Must be 'firing' or 'resolved'.", field=f"{field}.status")
    labels = _str_map(alert, "labels", f"{field}.labels")
    annotations = _str_map(alert, "annotations", f"{field}.annotations")
    fingerprint = _opt_str(alert, "fingerprint", f"{field}.fingerprint").strip()
    if not fingerprint:  # Alertmanager's fingerprint is a hash of the label set: do the same
        fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    links = []
    generator = _opt_str(alert, "generatorURL", f"{field}.generatorURL")
    if generator:
        links.append({"href": generator[:2000], "text": "Source"})
    if annotations.get("runbook_url"):
        links.append({"href": annotations["runbook_url"], "text": "Runbook"})
    for name, text in extra_links:
        value = _opt_str(alert, name, f"{field}.{name}")
        if value:
            links.append({"href": value[:2000], "text": text})
    custom = {"annotations": annotations, "fingerprint": fingerprint}
    for name in ("startsAt", "endsAt"):
        value = _opt_str(alert, name, f"{field}.{name}")
        if value:
            custom[name] = value[:64]
    custom.update(extra_details or {})
    return InboundEvent(
        event_type=EventType.ALERT if status == "firing" else EventType.RESOLVE,
        summary=summary_from(labels, annotations),
        details=details_from(annotations, labels),
        incident_key=base.short_key(fingerprint),
        priority=priority_from(labels),
        links=links,
        custom_details=custom,
        labels=labels,
        via=via,
    )


def group_event(data, alerts, *, via, summary=""):
    """The whole notification as one event, keyed by its groupKey."""
    group_key = _opt_str(data, "groupKey", "groupKey").strip()
    if not group_key:
        raise base.Reject(400, "A groupKey is required when the source groups by groupKey.", field="groupKey")
    status = data.get("status")
    if status not in ("firing", "resolved"):
        raise base.Reject(400, "Must be 'firing' or 'resolved'.", field="status")
    common_labels = _str_map(data, "commonLabels", "commonLabels")
    common_annotations = _str_map(data, "commonAnnotations", "commonAnnotations")
    group_labels = _str_map(data, "groupLabels", "groupLabels")
    firing = sum(1 for a in alerts if a.get("status") == "firing")
    if not summary:
        summary = common_annotations.get("summary", "").strip()
    if not summary:
        names = " ".join(group_labels.values()) or common_labels.get("alertname", "")
        summary = f"[{status.upper()}:{firing}] {names}".strip()
    links = []
    for alert in alerts[:20]:
        if isinstance(alert.get("generatorURL"), str) and alert["generatorURL"]:
            links.append({"href": alert["generatorURL"][:2000], "text": "Source"})
            break
    return InboundEvent(
        event_type=EventType.ALERT if status == "firing" else EventType.RESOLVE,
        summary=summary,
        details=details_from(common_annotations, common_labels) + f"\n\n{len(alerts)} alert(s), {firing} firing.",
        incident_key=base.short_key(group_key),
        priority=priority_from(common_labels),
        links=links,
        custom_details={"groupKey": group_key, "groupLabels": group_labels, "commonAnnotations": common_annotations,
                        "alerts": [a.get("fingerprint") for a in alerts[:100] if isinstance(a, dict)]},
        labels=common_labels,
        via=via,
    )


def parse(data, *, group_by="fingerprint"):
    alerts = alerts_of(data)
    receiver = _opt_str(data, "receiver", "receiver")
    external = _opt_str(data, "externalURL", "externalURL")
    extra = {"receiver": receiver[:200], "externalURL": external[:2000]}
    # Every alert is checked in both modes, so the same payload is refused (or not) whatever the grouping.
    events = [alert_event(alert, i, via="alertmanager", extra_details=extra) for i, alert in enumerate(alerts)]
    if group_by == "groupKey":
        return [group_event(data, alerts, via="alertmanager")]
    return events


def answer(events, results):
    rows = []
    for event, result in zip(events, results, strict=True):
        rows.append({
            "fingerprint": event.custom_details.get("fingerprint") or event.custom_details.get("groupKey"),
            "incidentKey": result.incident_key,
            "incidentId": result.incident.pk if result.incident else None,
            "responseCode": result.code,
        })
    return JsonResponse({"alerts": rows}, status=202)


@token_addressed
@csrf_exempt
@require_POST
def receive(request, key=None):
    try:
        data = base.json_body(request)
        source = base.source_for(base.key_from_request(request, key), integration_types=[NAME],
                                 field="key", cost=0)
        events = parse(data, group_by=source.options.get("group_by", "fingerprint"))
        base.rate_limit(source.key_hash, "alerts", cost=max(1, len(events)))  # every event counts
        results = base.ingest_all(source, events)
    except base.Reject as reject:
        return reject.response()
    return answer(events, results)


class GroupingSettings(SettingsForm):
    """Alertmanager's and Grafana's one setting: an incident per alert or per notification group."""

    group_by = forms.ChoiceField(
        choices=[("fingerprint", "One incident per alert (fingerprint)"),
                 ("groupKey", "One incident per notification group (groupKey)")], label="Incidents",
        initial="fingerprint")


def setup(links):
    return {"alertmanager_url": links.keyed("alerts:alertmanager-key"),
            "alertmanager_bare_url": links.url("alerts:alertmanager")}


def paste(source, site):
    key = source.integration_key
    return {"url": site + reverse("alerts:alertmanager-key", args=[key]), "key": key, "how": "webhook URL"}


INTEGRATION = InboundIntegration(
    name=NAME, label="Prometheus Alertmanager", setup_template="alerts/integrations/alertmanager.html", setup=setup,
    parse=parse, paste=paste, settings_form=GroupingSettings, clean_options=clean_options,
    urls=[path("integrations/alertmanager", receive, name="alertmanager"),
          path("integrations/alertmanager/<str:key>", receive, name="alertmanager-key")],
)
