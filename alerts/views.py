"""Dashboard pages for incidents and alert sources."""

from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from accounts import selectors as account_selectors
from escalation.models import EscalationPolicy
from ilert import clock, secrets
from ilert.dashboard import admin_only, can_write, panel_urls, tenant_object
from ilert.errors import DomainError
from ilert.ids import parse_id

from . import selectors, services
from .forms import AlertSourceEditForm, AlertSourceForm, CommentForm, MaintenanceForm, integration_settings_form
from .ingest import EventType, InboundEvent
from .integrations import registry
from .integrations.spec import SetupLinks
from .models import AlertSource, Incident, MaintenanceWindow
from .search import search

# Other apps add a panel to the incident page and to the alert source page (URL names taking the
# object's pk), loaded by htmx.
INCIDENT_PANELS = ["escalation:incident-panel", "notifications:incident-panel", "connectors:incident-panel",
                   "status:incident-panel"]
SOURCE_PANELS = ["connectors:source-panel"]

STATUS_FILTERS = {
    "open": Incident.OPEN,
    "pending": (Incident.Status.PENDING,),
    "accepted": (Incident.Status.ACCEPTED,),
    "resolved": (Incident.Status.RESOLVED,),
}


def _policies(tenant):
    return EscalationPolicy.objects.filter(tenant=tenant)


# ?sort= values: column -> ordering ("-opened": newest first, the default)
SORTS = {"number": "number", "status": "status", "summary": "summary", "priority": "priority",
         "source": "alert_source__name", "assignee": "assigned_to__name", "opened": "created_at"}
COLUMN_TITLES = {"number": "#", "status": "Status", "summary": "Summary", "priority": "Priority", "source": "Source",
                 "assignee": "Assignee", "opened": "Opened"}
DEFAULT_SORT = "-opened"
# The same orders as a list (phones have no column headers to click).
SORT_CHOICES = [("-opened", "Newest first"), ("opened", "Oldest first"), ("priority", "Priority, high first"),
                ("status", "Status"), ("summary", "Summary A–Z"), ("-summary", "Summary Z–A"),
                ("source", "Alert source"), ("assignee", "Assignee"), ("-number", "Number, highest first"),
                ("number", "Number, lowest first")]


def _sort(request):
    value = request.GET.get("sort", DEFAULT_SORT)
    return value if value.lstrip("-") in SORTS else DEFAULT_SORT


def _day(value):
    """A YYYY-MM-DD from the query string, or None."""
    try:
        return date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None


def _filtered_incidents(request):
    queryset = search(selectors.incidents(request.tenant), request.GET.get("q", ""))
    # Days are the reader's days (the request runs in their zone: ilert/readerzone.py).
    zone = timezone.get_current_timezone()
    since, until = _day(request.GET.get("from", "")), _day(request.GET.get("to", ""))
    if since:
        queryset = queryset.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=zone))
    if until and until < date.max:
        queryset = queryset.filter(created_at__lt=datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone))
    sort = _sort(request)
    queryset = queryset.order_by(("-" if sort.startswith("-") else "") + SORTS[sort.lstrip("-")], "-number")
    state = request.GET.get("status", "open")
    if state in STATUS_FILTERS:
        queryset = queryset.filter(status__in=STATUS_FILTERS[state])
    source = request.GET.get("source", "")
    if source.isascii() and source.isdigit():
        source_id = parse_id(source)
        queryset = queryset.filter(alert_source_id=source_id) if source_id else queryset.none()
    if request.GET.get("priority") in ("HIGH", "LOW"):
        queryset = queryset.filter(priority=request.GET["priority"])
    if request.GET.get("assignee") == "me":
        queryset = queryset.filter(assigned_to=request.user)
    return queryset, state


@require_safe
@login_required
def incidents(request):
    queryset, state = _filtered_incidents(request)
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    sort = _sort(request)
    context = {"page": page, "state": state, "sources": selectors.alert_sources(request.tenant),
               "query": request.GET.urlencode(), "sort": sort, "columns": _sort_links(request, sort),
               "sort_choices": SORT_CHOICES + ([] if sort in dict(SORT_CHOICES) else [(sort, "As the column says")])}
    template = "alerts/_incident_rows.html" if request.headers.get("HX-Request") else "alerts/incidents.html"
    return render(request, template, context)


def _sort_links(request, sort):
    """Per sortable column, in the table's order: the link that sorts by it (again: the other way)."""
    links = []
    for column in SORTS:
        params = request.GET.copy()
        params.pop("page", None)
        current = sort.lstrip("-") == column
        descending = sort.startswith("-")
        params["sort"] = (column if descending else f"-{column}") if current else (
            f"-{column}" if column == "opened" else column)
        links.append({"key": column, "title": COLUMN_TITLES[column], "url": "?" + params.urlencode(),
                      "aria": ("descending" if descending else "ascending") if current else "none",
                      "arrow": ("↓" if descending else "↑") if current else ""})
    return links


@require_POST
@login_required
@can_write
def incidents_bulk(request):
    action = request.POST.get("action")
    if action not in ("accept", "resolve"):
        return HttpResponseBadRequest("Unknown action: choose accept or resolve.")
    ids = {pk for pk in map(parse_id, request.POST.getlist("ids")) if pk is not None}
    done = 0
    for incident in selectors.incidents(request.tenant).filter(pk__in=ids):
        try:
            if action == "accept":
                services.accept(incident, by=request.user, via="dashboard")
            else:
                services.resolve(incident, by=request.user, via="dashboard")
            done += 1
        except DomainError as exc:
            messages.warning(request, exc.message)
    if done:
        plural = "s" if done != 1 else ""
        messages.success(request, f"{done} incident{plural} {'accepted' if action == 'accept' else 'resolved'}")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("alerts:incidents")
    return redirect(target)


@require_safe
@tenant_object(Incident)
def incident_detail(request, obj):
    context = {
        "incident": obj,
        "timeline": selectors.timeline(obj),
        "comment_form": CommentForm(),
        "users": account_selectors.users(request.tenant, include_inactive=False),
        "panels": panel_urls(INCIDENT_PANELS, obj.pk),
        "changes": selectors.changes_near(obj),
    }
    return render(request, "alerts/incident_detail.html", context)


def _act(request, obj, do):
    try:
        do()
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("alerts:incident", pk=obj.pk)


@require_POST
@tenant_object(Incident)
@can_write
def incident_accept(request, obj):
    return _act(request, obj, lambda: services.accept(obj, by=request.user, via="dashboard"))


@require_POST
@tenant_object(Incident)
@can_write
def incident_resolve(request, obj):
    return _act(request, obj, lambda: services.resolve(obj, by=request.user, via="dashboard"))


@require_POST
@tenant_object(Incident)
@can_write
def incident_escalate(request, obj):
    return _act(request, obj, lambda: services.escalate(obj, by=request.user, via="dashboard"))


@require_POST
@tenant_object(Incident)
@can_write
def incident_reassign(request, obj):
    user_pk = parse_id(request.POST.get("user"))
    users = account_selectors.users(request.tenant, include_inactive=False)
    user = users.filter(pk=user_pk).first() if user_pk else None
    if user is None:
        messages.error(request, "Pick a user to assign.")
        return redirect("alerts:incident", pk=obj.pk)
    return _act(request, obj, lambda: services.assign(obj, user, by=request.user, via="dashboard"))


@require_POST
@tenant_object(Incident)
@can_write
def incident_comment(request, obj):
    form = CommentForm(request.POST)
    if form.is_valid():
        return _act(request, obj, lambda: services.comment(obj, form.cleaned_data["text"], by=request.user,
                                                            via="dashboard"))
    messages.error(request, "A note needs some text (at most 5000 characters).")
    return redirect("alerts:incident", pk=obj.pk)


@login_required
def sources(request):
    form = AlertSourceForm(request.POST or None, policies=_policies(request.tenant))
    if request.method == "POST":
        if not request.user.is_admin:
            raise PermissionDenied("Your role does not allow this.")
        if form.is_valid():
            try:
                source = services.create_alert_source(request.tenant, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, f"Alert source {source.name} created. Point your tool at it below.")
                return redirect("alerts:source", pk=source.pk)
    open_counts = {}
    for row in selectors.open_incidents(request.tenant).values("alert_source_id"):
        open_counts[row["alert_source_id"]] = open_counts.get(row["alert_source_id"], 0) + 1
    rows = [(s, open_counts.get(s.pk, 0)) for s in selectors.alert_sources(request.tenant)]
    return render(request, "alerts/sources.html", {"rows": rows, "form": form})


def _source_edit_form(request, obj, data=None):
    initial = {
        "name": obj.name, "escalation_policy": obj.escalation_policy, "default_priority": obj.default_priority,
        "creation_mode": obj.creation_mode, "auto_resolve_minutes": obj.auto_resolve_minutes, "status": obj.status,
    }
    return AlertSourceEditForm(data, initial=initial, policies=_policies(request.tenant))


def _source_page(request, obj, form, maintenance_form=None):
    context = {
        "source": obj,
        "form": form,
        "settings_form": integration_settings_form(obj),
        "setup": setup_for(request, obj),
        "maintenance_form": maintenance_form or MaintenanceForm(),
        "windows": obj.maintenance_windows.all()[:20],
        "recent": selectors.incidents(request.tenant).filter(alert_source=obj)[:10],
        "changes": obj.changes.all()[:20],
        "panels": panel_urls(SOURCE_PANELS, obj.pk),
        "now": clock.now(),
    }
    return render(request, "alerts/source_detail.html", context)


@tenant_object(AlertSource)
def source_detail(request, obj):
    form = _source_edit_form(request, obj, request.POST or None)
    if request.method == "POST":
        if not request.user.is_admin:
            raise PermissionDenied("Your role does not allow this.")
        if form.is_valid():
            try:
                services.update_alert_source(obj, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Saved.")
                return redirect("alerts:source", pk=obj.pk)
    return _source_page(request, obj, form)


def setup_for(request, source):
    """What the source page shows to paste into the sending tool: the key, and what the source's
    integration declares (its template and the URLs, address or snippets its setup() builds). The
    key acts on incidents (accept, resolve through the Event API), so read-only roles see it masked."""
    shown = source.integration_key if request.user.can_write else secrets.mask(source.integration_key)
    integration = registry.get(source.integration_type)
    return {
        **integration.setup(SetupLinks(request, source, shown)),
        "key": shown,
        "masked": not request.user.can_write,
        "template": integration.setup_template,
        "panel_template": integration.panel_template,
    }


@require_POST
@tenant_object(AlertSource)
@admin_only
def source_integration_settings(request, obj):
    form = integration_settings_form(obj, request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(e)}" for name, e in form.errors.items())
        messages.error(request, f"Not saved — {errors}")
        return redirect("alerts:source", pk=obj.pk)
    try:
        services.update_alert_source(obj, **form.changes())
    except DomainError as exc:
        messages.error(request, f"Not saved — {exc.message}")
    else:
        messages.success(request, "Integration settings saved.")
    return redirect("alerts:source", pk=obj.pk)


@require_POST
@tenant_object(AlertSource)
@admin_only
def source_regenerate_key(request, obj):
    services.regenerate_integration_key(obj)
    messages.success(request, "New integration key created; the old one no longer works.")
    return redirect("alerts:source", pk=obj.pk)


@require_POST
@tenant_object(AlertSource)
@can_write
def source_test_event(request, obj):
    event = InboundEvent(
        event_type=EventType.ALERT, summary=f"Test event from {request.user.display_name}",
        details="Sent with the “Send test event” button on the alert source page.", via="dashboard",
    )
    try:
        result = services.ingest(obj, event)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("alerts:source", pk=obj.pk)
    messages.success(request, f"Test event sent: incident #{result.incident.number}.")
    return redirect("alerts:incident", pk=result.incident.pk)


@require_POST
@tenant_object(AlertSource)
@can_write
def source_add_maintenance(request, obj):
    form = MaintenanceForm(request.POST)
    if form.is_valid():
        try:
            services.add_maintenance_window(obj, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Maintenance window added.")
            return redirect("alerts:source", pk=obj.pk)
    # The page again, the form keeping what was typed with each error beside its field.
    messages.error(request, "The maintenance window was not added.")
    return _source_page(request, obj, _source_edit_form(request, obj), maintenance_form=form)


@require_POST
@tenant_object(MaintenanceWindow)
@can_write
def maintenance_delete(request, obj):
    services.delete_maintenance_window(obj)
    messages.success(request, "Maintenance window removed.")
    return redirect("alerts:source", pk=obj.alert_source_id)


@require_safe
@login_required
def home_panel(request):
    open_incidents = selectors.open_incidents(request.tenant)
    context = {
        "pending": open_incidents.filter(status=Incident.Status.PENDING).count(),
        "accepted": open_incidents.filter(status=Incident.Status.ACCEPTED).count(),
        "mine": open_incidents.filter(assigned_to=request.user).count(),
        "latest": open_incidents[:8],
    }
    return render(request, "alerts/_home_panel.html", context)


@require_safe
def badge_count(request):
    """The open-incident count for the sidebar badge (htmx)."""
    if not request.user.is_authenticated:
        return HttpResponse("")
    count = selectors.open_incidents(request.tenant).filter(status=Incident.Status.PENDING).count()
    return HttpResponse(f'<span class="count">{count}</span>' if count else "")
