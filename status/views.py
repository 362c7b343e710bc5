"""Dashboard pages: status pages (with a preview before publishing), services with their links and
history, status incidents and maintenance with their updates, the profile panel for following
services, and the incident panel's one-click "tell stakeholders"."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from alerts.models import Incident
from ilert.dashboard import admin_only, can_write, tenant_object
from ilert.errors import DomainError

from . import public, selectors, services
from .forms import (
    GroupForm,
    IncidentForm,
    MaintenanceForm,
    MonitorLinkForm,
    PageForm,
    ServiceForm,
    SourceLinkForm,
    StatusForm,
    SubscriptionsForm,
    UpdateForm,
)
from .models import MonitorLink, Service, ServiceGroup, SourceLink, StatusIncident, StatusPage, Subscriber
from .services import domains


def _act(request, action, success):
    try:
        result = action()
    except DomainError as exc:
        messages.error(request, exc.message)
        return None, False
    if success:
        messages.success(request, success)
    return result, True


# --- pages -----------------------------------------------------------------------------------------


@login_required
@admin_only
def pages(request):
    form = PageForm(request.POST or None, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        values = form.values()
        page, ok = _act(request, lambda: services.create_page(request.tenant, by=request.user, **values),
                        "Status page created. Preview it, then publish.")
        if ok:
            return redirect("status:page-edit", pk=page.pk)
    return render(request, "status/pages.html", {"pages": selectors.pages(request.tenant), "form": form})


@tenant_object(StatusPage)
@admin_only
def page_detail(request, obj):
    form = PageForm(request.POST or None, instance=obj, tenant=request.tenant)
    if request.method == "POST":
        if not form.is_valid():
            obj.refresh_from_db()
        else:
            values = form.values()
            service_list = values.pop("services")
            _, ok = _act(request, lambda: services.update_page(obj, services=service_list, by=request.user,
                                                                **values), "Saved.")
            if ok:
                return redirect("status:page-edit", pk=obj.pk)
    subscribers = list(selectors.subscribers(request.tenant).filter(page=obj).order_by("-created_at")[:200])
    obj.refresh_from_db()
    record = ({"name": domains.record_name(obj), "value": domains.record_value(obj)} if obj.custom_domain
              else None)
    return render(request, "status/page_detail.html", {"page": obj, "form": form, "subscribers": len(subscribers),
                                                       "subscriber_list": subscribers, "domain_record": record})


@require_POST
@tenant_object(StatusPage)
@admin_only
def page_domain_check(request, obj):
    """Look the domain's TXT record up now (the page is served on the domain only once it is there)."""
    verified, ok = _act(request, lambda: services.check_domain(obj, by=request.user), None)
    if ok and verified:
        messages.success(request, f"{obj.custom_domain} is verified: the page is served there.")
    elif ok:
        messages.error(request, f"No TXT record {domains.record_name(obj)} with this page's value was found yet "
                                "(DNS changes can take a while to show).")
    return redirect("status:page-edit", pk=obj.pk)


@require_safe
@tenant_object(StatusPage)
def page_preview(request, obj):
    """The page as visitors will see it, also before it is published (members only)."""
    html = public._html(request, obj, preview=True)
    response = HttpResponse(html)
    response["Content-Security-Policy"] = public.CSP
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@tenant_object(StatusPage)
@admin_only
def page_access_link(request, obj):
    token = services.new_access_link(obj, by=request.user)
    link = request.build_absolute_uri(f"/status/{obj.slug}/?access={token}")
    messages.success(request, f"The new secret link (shown once; the old one stops working): {link}")
    return redirect("status:page-edit", pk=obj.pk)


@require_POST
@tenant_object(StatusPage)
@admin_only
def page_subscribers(request, obj):
    """Add a webhook subscriber (its signing secret is shown once) or remove a subscriber."""
    if request.POST.get("remove"):
        subscriber = Subscriber.objects.filter(page=obj, pk=request.POST["remove"] if
                                               request.POST["remove"].isdigit() else 0).first()
        if subscriber is not None:
            services.unsubscribe(subscriber)
            messages.success(request, "Subscriber removed.")
    elif request.POST.get("url"):
        created, ok = _act(request, lambda: services.subscribe_webhook(obj, request.POST["url"].strip(),
                                                                       by=request.user), None)
        if ok:
            messages.success(request, f"Webhook added. Its signing secret (shown once): {created[1]}")
    return redirect("status:page-edit", pk=obj.pk)


@require_POST
@tenant_object(StatusPage)
@admin_only
def page_delete(request, obj):
    services.delete_page(obj, by=request.user)
    messages.success(request, "Status page deleted.")
    return redirect("status:pages")


# --- service groups ----------------------------------------------------------------------------------


@tenant_object(ServiceGroup)
@admin_only
def group_detail(request, obj):
    """Rename, reorder or delete a group, and move services into or out of it."""
    which = request.POST.get("form")
    form = GroupForm(request.POST if which == "group" else None, instance=obj)
    if request.method == "POST":
        done = False
        if which == "group" and form.is_valid():
            _, done = _act(request, lambda: services.update_group(obj, by=request.user, **form.cleaned_data),
                           "Saved.")
        elif which in ("add", "remove"):
            service = selectors.services(request.tenant).filter(pk=_int(request.POST.get("service"))).first()
            if service is None:
                messages.error(request, "Choose a service of your organisation.")
            else:
                _, done = _act(request, lambda: services.update_service(
                    service, group=obj if which == "add" else None, by=request.user),
                    "Service moved into the group." if which == "add" else "Service moved out of the group.")
        if done:
            return redirect("status:group", pk=obj.pk)
        obj.refresh_from_db()
    members = list(obj.services.order_by("order", "name", "id"))
    others = selectors.services(request.tenant).exclude(group=obj).order_by("name")
    return render(request, "status/group_detail.html", {"group": obj, "form": form, "members": members,
                                                        "others": others})


@require_POST
@tenant_object(ServiceGroup)
@admin_only
def group_move(request, obj):
    """Move a group one place up or down among the tenant's groups (the order a status page shows)."""
    _act(request, lambda: services.move_group(obj, up=request.POST.get("direction") == "up", by=request.user),
         None)
    return redirect("status:services")


@require_POST
@tenant_object(ServiceGroup)
@admin_only
def group_delete(request, obj):
    _act(request, lambda: services.delete_group(obj, by=request.user),
         "Group deleted; its services are now outside any group.")
    return redirect("status:services")


def _int(value):
    return int(value) if value and str(value).isdigit() else 0


# --- services ---------------------------------------------------------------------------------------


@login_required
@admin_only
def services_view(request):
    form = ServiceForm(request.POST if request.POST.get("form") == "service" else None, tenant=request.tenant)
    group_form = GroupForm(request.POST if request.POST.get("form") == "group" else None)
    if request.method == "POST":
        if request.POST.get("form") == "group" and group_form.is_valid():
            _act(request, lambda: services.create_group(request.tenant, by=request.user, **group_form.cleaned_data),
                 "Group created.")
            return redirect("status:services")
        if request.POST.get("form") == "service" and form.is_valid():
            service, ok = _act(request, lambda: services.create_service(request.tenant, by=request.user,
                                                                         **form.cleaned_data), "Service created.")
            if ok:
                return redirect("status:service", pk=service.pk)
    groups = selectors.groups(request.tenant).annotate(service_count=Count("services")).order_by("order", "name", "id")
    return render(request, "status/services.html", {
        "services": selectors.services(request.tenant), "groups": groups, "form": form, "group_form": group_form})


@tenant_object(Service)
@admin_only
def service_detail(request, obj):
    tenant = request.tenant
    which = request.POST.get("form")
    form = ServiceForm(request.POST if which == "service" else None, instance=obj, tenant=tenant)
    status_form = StatusForm(request.POST if which == "status" else None, initial={"status": obj.base_status})
    source_form = SourceLinkForm(request.POST if which == "source" else None, tenant=tenant)
    monitor_form = MonitorLinkForm(request.POST if which == "monitor" else None, tenant=tenant)
    if request.method == "POST":
        done = False
        if which == "service" and form.is_valid():
            _, done = _act(request, lambda: services.update_service(obj, by=request.user, **form.cleaned_data),
                           "Saved.")
        elif which == "status" and status_form.is_valid():
            _, done = _act(request, lambda: services.set_status(obj, status_form.cleaned_data["status"],
                                                                by=request.user), "Status set.")
        elif which == "source" and source_form.is_valid():
            data = source_form.cleaned_data
            _, done = _act(request, lambda: services.link_source(
                obj, data["alert_source"], status_while_open=data["status_while_open"],
                restore_on_resolve=data["restore_on_resolve"], by=request.user), "Alert source linked.")
        elif which == "monitor" and monitor_form.is_valid():
            data = monitor_form.cleaned_data
            _, done = _act(request, lambda: services.link_monitor(
                obj, data["monitor"], status_while_down=data["status_while_down"],
                restore_on_resolve=data["restore_on_resolve"], by=request.user), "Monitor linked.")
        elif which in ("unlink-source", "unlink-monitor"):
            model = SourceLink if which == "unlink-source" else MonitorLink
            link = model.objects.filter(service=obj, pk=request.POST.get("link") or 0).first()
            if link is not None:
                _, done = _act(request, lambda: services.unlink(link, by=request.user), "Unlinked.")
        if done:
            return redirect("status:service", pk=obj.pk)
    obj.refresh_from_db()
    return render(request, "status/service_detail.html", {
        "service": obj, "form": form, "status_form": status_form, "source_form": source_form,
        "monitor_form": monitor_form,
        "source_links": SourceLink.objects.filter(service=obj).select_related("alert_source"),
        "monitor_links": MonitorLink.objects.filter(service=obj).select_related("monitor"),
        "history": obj.history.select_related("actor").order_by("-at", "-id")[:50],
        "holds": obj.holds.all()})


@require_POST
@tenant_object(Service)
@admin_only
def service_delete(request, obj):
    services.delete_service(obj, by=request.user)
    messages.success(request, "Service deleted.")
    return redirect("status:services")


# --- status incidents and maintenance ----------------------------------------------------------------


@login_required
@can_write
def incidents_view(request):
    tenant = request.tenant
    which = request.POST.get("form")
    form = IncidentForm(request.POST if which == "incident" else None, tenant=tenant)
    maintenance_form = MaintenanceForm(request.POST if which == "maintenance" else None, tenant=tenant)
    if request.method == "POST":
        result, ok = None, False
        if which == "incident" and form.is_valid():
            data = form.cleaned_data
            result, ok = _act(request, lambda: services.create_incident(
                tenant, title=data["title"], message=data["message"], status=data["status"], impact=data["impact"],
                affected=[(s, data["service_impact"]) for s in data["services"]], by=request.user),
                "Incident posted.")
        elif which == "maintenance" and maintenance_form.is_valid():
            data = maintenance_form.cleaned_data
            result, ok = _act(request, lambda: services.schedule_maintenance(
                tenant, title=data["title"], message=data["message"], scheduled_for=data["scheduled_for"],
                scheduled_until=data["scheduled_until"], affected=data["services"],
                auto_transition=data["auto_transition"], silence_sources=data["silence_sources"], by=request.user),
                "Maintenance scheduled.")
        if ok:
            return redirect("status:incident", pk=result.pk)
    incidents = selectors.incidents(tenant).prefetch_related("affected__service")
    return render(request, "status/incidents.html", {
        "open": [i for i in incidents if i.is_open], "closed": [i for i in incidents if not i.is_open][:50],
        "form": form, "maintenance_form": maintenance_form})


@tenant_object(StatusIncident)
@can_write
def incident_detail(request, obj):
    form = UpdateForm(request.POST or None)
    allowed = obj.INCIDENT_STATUSES if obj.kind == "incident" else obj.MAINTENANCE_STATUSES
    form.fields["status"].choices = [(s, s.replace("_", " ").title()) for s in allowed]
    if request.method == "POST" and form.is_valid():
        _, ok = _act(request, lambda: services.post_update(obj, status=form.cleaned_data["status"],
                                                           message=form.cleaned_data["message"], by=request.user),
                     "Update posted.")
        if ok:
            return redirect("status:incident", pk=obj.pk)
    return render(request, "status/incident_detail.html", {
        "incident": obj, "form": form, "updates": obj.updates.select_related("author"),
        "affected": obj.affected.select_related("service")})


@require_POST
@tenant_object(StatusIncident)
@can_write
def incident_delete(request, obj):
    services.delete_incident(obj, by=request.user)
    messages.success(request, "Deleted.")
    return redirect("status:incidents-dash")


@tenant_object(Incident)
@can_write
def from_alert(request, obj):
    """The alert incident's panel (GET), and its one click (POST): a status incident for the services
    linked to its source, from the template."""
    if request.method == "POST":
        created, ok = _act(request, lambda: services.from_alert_incident(
            obj, by=request.user, template=request.POST.get("template") or services.DEFAULT_TEMPLATE),
            "Status incident posted.")
        if ok:
            return redirect("status:incident", pk=created.pk)
        return redirect("alerts:incident", pk=obj.pk)
    linked = Service.objects.filter(source_links__alert_source_id=obj.alert_source_id).distinct()
    existing = StatusIncident.objects.filter(tenant=request.tenant, alert_incident=obj)
    return render(request, "status/_incident_panel.html", {
        "incident": obj, "linked": linked, "existing": existing, "template": services.DEFAULT_TEMPLATE})


# --- following services from the profile ---------------------------------------------------------------


@login_required
def my_subscriptions(request):
    """Every member, stakeholders too, may follow services by email (their own account only)."""
    current = Subscriber.objects.filter(user=request.user).first()
    form = SubscriptionsForm(request.POST if request.method == "POST" else None, tenant=request.tenant,
                             initial={"services": list(current.services.all()) if current else []})
    if request.method == "POST":
        if not form.is_valid():
            messages.error(request, "Choose services of your organisation.")
            return redirect("accounts:profile")
        services.subscribe_member(request.user, form.cleaned_data["services"])
        messages.success(request, "Your service subscriptions are saved.")
        return redirect("accounts:profile")
    return render(request, "status/_profile_panel.html", {"form": form})
