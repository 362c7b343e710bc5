"""Dashboard pages (connectors, connections, Slack user links), the panels that the alert source
and incident pages load with htmx, and Slack's interactivity endpoint."""

import json
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from alerts import selectors as alert_selectors
from alerts import services as alert_services
from alerts.models import AlertSource, Incident
from ilert import netguard
from ilert.dashboard import admin_only, can_write, tenant_object, token_addressed
from ilert.errors import DomainError
from ilert.ids import parse_id

from . import http, selectors, services, targets
from .api import slack_interactivity_url
from .forms import ConnectionForm, ConnectorForm, SlackIdentityForm
from .models import Connection, ConnectionInvocation, Connector, Kind, SlackIdentity
from .targets.slack import ACCEPT, RESOLVE

log = logging.getLogger(__name__)


def _next(request, fallback):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def _forbidden(request):
    raise PermissionDenied("Your role does not allow this.")


# --- connectors --------------------------------------------------------------------------------


@login_required
def connectors(request):
    kind = request.POST.get("kind") or request.GET.get("kind") or Kind.WEBHOOK
    if kind not in Kind.values:
        kind = Kind.WEBHOOK
    form = ConnectorForm(kind, request.POST or None)
    if request.method == "POST":
        if not request.user.is_admin:
            return _forbidden(request)
        if form.is_valid():
            try:
                connector = services.create_connector(request.tenant, kind=kind, **form.service_kwargs())
            except DomainError as exc:
                form.add_domain_error(exc)
            else:
                messages.success(request, f"Connector {connector.name} created.")
                if connector.generated_secret:
                    return _connector_page(request, connector, generated_secret=connector.generated_secret)
                return redirect("connectors:connector", pk=connector.pk)
    rows = selectors.connectors(request.tenant).annotate(connection_count=Count("connections"))
    context = {"rows": rows, "form": form, "kind": kind, "kinds": [(t.kind, t.label, t.description)
                                                                    for t in targets.TARGETS.values()]}
    return render(request, "connectors/connectors.html", context)


def _connector_page(request, connector, form=None, generated_secret=None):
    form = form or ConnectorForm(connector.kind, connector=connector)
    connections = selectors.connections(request.tenant).filter(connector=connector)
    context = {
        "connector": connector, "form": form, "target": targets.get(connector.kind),
        "masked": services.masked_credentials(connector), "connections": connections,
        "invocations": selectors.invocations(request.tenant).filter(connection__connector=connector)[:25],
        "generated_secret": generated_secret,
        "slack_url": slack_interactivity_url(connector, request.user) if connector.kind == Kind.SLACK else None,
    }
    return render(request, "connectors/connector_detail.html", context)


@tenant_object(Connector)
def connector_detail(request, obj):
    form = None
    if request.method == "POST":
        if not request.user.is_admin:
            return _forbidden(request)
        form = ConnectorForm(obj.kind, request.POST, connector=obj)
        if form.is_valid():
            try:
                services.update_connector(obj, **form.service_kwargs())
            except DomainError as exc:
                form.add_domain_error(exc)
                obj.refresh_from_db()
            else:
                messages.success(request, "Saved.")
                return redirect("connectors:connector", pk=obj.pk)
    return _connector_page(request, obj, form)


@require_POST
@tenant_object(Connector)
@admin_only
def connector_test(request, obj):
    outcome = services.test_connector(obj)
    if outcome.ok:
        messages.success(request, f"Test connection: {outcome.message}")
    else:
        messages.error(request, f"Test connection failed: {outcome.message}")
    return redirect(_next(request, reverse("connectors:connector", args=[obj.pk])))


@require_POST
@tenant_object(Connector)
@admin_only
def connector_delete(request, obj):
    services.delete_connector(obj)
    messages.success(request, f"Connector {obj.name} deleted, with its connections.")
    return redirect("connectors:connectors")


# --- connections -------------------------------------------------------------------------------


@require_safe
@tenant_object(AlertSource)
def source_panel(request, obj):
    context = {"source": obj, "connections": selectors.connections_of_source(obj),
               "connectors": selectors.connectors(request.tenant).filter(enabled=True)}
    return render(request, "connectors/_source_panel.html", context)


@tenant_object(AlertSource)
def connection_new(request, obj):
    if request.method == "POST" and not request.user.is_admin:
        return _forbidden(request)
    connector_id = parse_id(request.POST.get("connector") or request.GET.get("connector"))
    connector = selectors.connectors(request.tenant).filter(pk=connector_id).first() if connector_id else None
    if connector is None:
        messages.error(request, "Pick a connector (create one on the Connectors page first).")
        return redirect("alerts:source", pk=obj.pk)
    form = ConnectionForm(connector, request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                connection = services.create_connection(obj, connector, **form.service_kwargs())
            except DomainError as exc:
                form.add_domain_error(exc)
            else:
                messages.success(request, f"{connector.name} is connected to {obj.name}.")
                return redirect("connectors:connection", pk=connection.pk)
    return render(request, "connectors/connection_form.html",
                  {"source": obj, "connector": connector, "form": form, "target": targets.get(connector.kind)})


@tenant_object(Connection, queryset=lambda: Connection.objects.select_related("connector", "alert_source"))
def connection_detail(request, obj):
    form = ConnectionForm(obj.connector, request.POST or None, connection=obj)
    if request.method == "POST":
        if not request.user.is_admin:
            return _forbidden(request)
        if form.is_valid():
            try:
                services.update_connection(obj, **form.service_kwargs())
            except DomainError as exc:
                form.add_domain_error(exc)
                obj.refresh_from_db()
            else:
                messages.success(request, "Saved.")
                return redirect("connectors:connection", pk=obj.pk)
    context = {
        "connection": obj, "form": form, "target": targets.get(obj.connector.kind),
        "invocations": selectors.invocations_of_connection(obj).select_related("incident")[:50],
        "incidents": alert_selectors.incidents(request.tenant).filter(alert_source=obj.alert_source)[:20],
    }
    return render(request, "connectors/connection_detail.html", context)


@require_POST
@tenant_object(Connection)
@admin_only
def connection_delete(request, obj):
    source_id = obj.alert_source_id
    services.delete_connection(obj)
    messages.success(request, "Connection removed.")
    return redirect("alerts:source", pk=source_id)


@require_POST
@tenant_object(Connection)
@can_write
def connection_run(request, obj):
    incident_id = parse_id(request.POST.get("incident"))
    incident = alert_selectors.incidents(request.tenant).filter(pk=incident_id).first() if incident_id else None
    if incident is None:
        messages.error(request, "Pick an incident.")
        return redirect(_next(request, reverse("connectors:connection", args=[obj.pk])))
    try:
        services.run_now(obj, incident, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{obj.connector.name}: running for #{incident.number}.")
    return redirect(_next(request, reverse("alerts:incident", args=[incident.pk])))


@require_POST
@tenant_object(ConnectionInvocation)
@can_write
def invocation_retry(request, obj):
    try:
        services.retry(obj, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Retrying.")
    return redirect(_next(request, reverse("alerts:incident", args=[obj.incident_id])))


@require_safe
@tenant_object(Incident)
def incident_panel(request, obj):
    context = {
        "incident": obj,
        "invocations": selectors.invocations_of_incident(obj)[:50],
        "connections": selectors.connections_of_source(obj.alert_source).filter(enabled=True),
        "here": reverse("alerts:incident", args=[obj.pk]),
    }
    return render(request, "connectors/_incident_panel.html", context)


# --- Slack users -------------------------------------------------------------------------------


@login_required
def slack_users(request):
    form = SlackIdentityForm(request.tenant, request.POST or None)
    if request.method == "POST":
        if not request.user.is_admin:
            return _forbidden(request)
        if form.is_valid():
            try:
                services.link_slack_user(request.tenant, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Slack user linked.")
                return redirect("connectors:slack-users")
    return render(request, "connectors/slack_users.html",
                  {"form": form, "identities": selectors.slack_identities(request.tenant)})


@require_POST
@tenant_object(SlackIdentity)
@admin_only
def slack_user_delete(request, obj):
    services.unlink_slack_user(obj)
    messages.success(request, "Slack user unlinked.")
    return redirect("connectors:slack-users")


# --- Slack interactivity (Accept / Resolve buttons) --------------------------------------------


def _reply(payload, text):
    """Tell the clicking Slack user (only them) why nothing happened, through the response_url."""
    url = payload.get("response_url")
    if not isinstance(url, str) or not url:
        return
    try:
        with http.session(record=False) as session:
            session.post(url, json={"response_type": "ephemeral", "replace_original": False, "text": text},
                         timeout=5)
    except (netguard.BlockedTarget, OSError, ValueError) as exc:
        log.info("slack response_url reply failed: %s", type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - best effort only
        log.info("slack response_url reply failed: %s", type(exc).__name__)


class _Malformed(ValueError):
    def __init__(self, field, message):
        super().__init__(message)
        self.field, self.message = field, message


def _clicks(payload):
    """The clicking Slack user's id and the ilert buttons clicked, as (action_id, incident id or
    None), from a block_actions payload; _Malformed (naming the field) for anything that does not
    have Slack's shape, checked before anything is acted on."""
    user = payload.get("user")
    if not isinstance(user, dict):
        raise _Malformed("user", "user must be an object.")
    user_id = user.get("id")
    if not isinstance(user_id, str) or not (user_id.isascii() and user_id.isalnum() and len(user_id) <= 32):
        raise _Malformed("user.id", "user.id must be a Slack member ID (letters and digits).")
    actions = payload.get("actions", [])
    if not isinstance(actions, list):
        raise _Malformed("actions", "actions must be a list.")
    clicks = []
    for index, item in enumerate(actions):
        if not isinstance(item, dict):
            raise _Malformed(f"actions[{index}]", "Each action must be an object.")
        action_id, value = item.get("action_id"), item.get("value", "")
        if not isinstance(action_id, str):
            raise _Malformed(f"actions[{index}].action_id", "action_id must be a string.")
        if action_id not in (ACCEPT, RESOLVE):
            continue
        if not isinstance(value, str):
            raise _Malformed(f"actions[{index}].value", "value must be a string.")
        clicks.append((action_id, parse_id(value)))
    return user_id, clicks


@csrf_exempt
@require_POST
@token_addressed
def slack_interactivity(request, token):
    """Slack's interactivity request URL for one connector. The request must carry a valid
    signature made with the connector's signing secret (else 403, nothing changes); the clicking
    Slack user must be linked to an active ilert user who may act on incidents."""
    from slack_sdk.signature import SignatureVerifier  # slack_sdk is heavy: loaded when used (web start-up)

    connector = Connector.objects.filter(inbound_token=token, kind=Kind.SLACK).first()
    if connector is None:
        return HttpResponse(status=404)
    try:
        secret = connector.credentials.get("signing_secret")
    except ValueError:  # credentials encrypted with a key no longer in ENCRYPTION_KEYS
        secret = None
    if not secret or not SignatureVerifier(secret).is_valid_request(request.body, request.headers):
        return HttpResponseForbidden("invalid signature")
    try:
        payload = json.loads(request.POST.get("payload", ""))
    except (ValueError, RecursionError):
        return JsonResponse({"error": "payload is not JSON", "field": "payload"}, status=400)
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return HttpResponse(status=200)
    try:
        slack_user, clicks = _clicks(payload)
    except _Malformed as exc:  # signed by Slack's key, but not the shape Slack sends: act on nothing
        return JsonResponse({"error": exc.message, "field": f"payload.{exc.field}"}, status=400)
    identity = SlackIdentity.objects.select_related("user").filter(tenant=connector.tenant_id,
                                                                    slack_user_id=slack_user).first()
    for action_id, incident_id in clicks:
        incident = Incident.objects.filter(tenant=connector.tenant_id, pk=incident_id).first() \
            if incident_id is not None else None
        if incident is None:
            _reply(payload, "ilert: this incident no longer exists.")
            continue
        user = identity.user if identity is not None else None
        if user is None or not user.is_active or not user.can_write:
            _reply(payload, "ilert: your Slack account is not linked to an ilert user who may act on incidents. "
                            "Ask an ilert admin to link it (Connectors → Slack users).")
            continue
        try:
            if action_id == ACCEPT:
                alert_services.accept(incident, by=user, via="slack")
            else:
                alert_services.resolve(incident, by=user, via="slack")
        except DomainError as exc:
            _reply(payload, f"ilert: {exc.message}")
    return HttpResponse(status=200)
