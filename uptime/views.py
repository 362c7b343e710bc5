"""Dashboard pages: the monitors grid, a monitor's page (figures, SVG charts, results, incidents,
"check now"), and the overview panel."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Greatest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from escalation.models import EscalationPolicy
from ilert import clock
from ilert.dashboard import admin_only, can_write, tenant_object
from ilert.errors import DomainError

from . import charts, selectors, services, stats
from .forms import MonitorForm
from .models import CheckResult, CheckRollup, UptimeMonitor


def _policies(tenant):
    return EscalationPolicy.objects.filter(tenant=tenant)


def _form_values(form):
    data = dict(form.cleaned_data)
    if data.get("port") is None:
        data["port"] = None
    return data


def uptime_24h(tenant, now=None):
    """{monitor id: uptime % over the last 24 hours} for all of a tenant's monitors, in two queries
    (hourly roll-ups, then raw results not rolled up yet)."""
    now = now or clock.now()
    start = stats.window_start("hours", 24, now)
    totals = {}
    for row in (CheckRollup.objects.filter(tenant=tenant, period="hour", start__gte=start)
                .values("monitor_id").annotate(up_n=Sum("up"), down_n=Sum("down"))):
        totals[row["monitor_id"]] = [row["up_n"], row["down_n"]]
    raw = (CheckResult.objects.filter(tenant=tenant, checked_at__gte=Greatest(F("monitor__rolled_until"), start))
           .values("monitor_id").annotate(up_n=Count("id", filter=Q(outcome="up")),
                                          down_n=Count("id", filter=Q(outcome="down"))))
    for row in raw:
        total = totals.setdefault(row["monitor_id"], [0, 0])
        total[0] += row["up_n"]
        total[1] += row["down_n"]
    return {pk: round(100.0 * up / (up + down), 2) for pk, (up, down) in totals.items() if up + down}


def _tiles(request):
    monitors = list(selectors.monitors(request.tenant))
    uptimes = uptime_24h(request.tenant)
    for monitor in monitors:
        monitor.uptime_24h = uptimes.get(monitor.pk)
    return monitors


@login_required
def monitors(request):
    form = MonitorForm(request.POST or None, policies=_policies(request.tenant))
    if request.method == "POST":
        if not request.user.is_admin:
            raise PermissionDenied("Your role does not allow this.")
        if form.is_valid():
            try:
                monitor = services.create_monitor(request.tenant, **_form_values(form))
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, f"Monitor {monitor.name} created; its first check runs now.")
                return redirect("uptime:monitor", pk=monitor.pk)
    context = {"monitors": _tiles(request), "form": form, "counts": selectors.status_counts(request.tenant)}
    if request.headers.get("HX-Request"):
        return render(request, "uptime/_grid.html", context)
    return render(request, "uptime/monitors.html", context)


def _detail_context(request, monitor, form=None):
    now = clock.now()
    figures = stats.figures(monitor, now)
    return {
        "monitor": monitor,
        "figures": [(name, figures[name]) for name, *_ in stats.WINDOWS],
        "chart": charts.response_chart(stats.response_series(monitor, now=now), zone=timezone.get_current_timezone()),
        "bar": charts.uptime_bar(stats.daily_uptime(monitor, now=now)),
        "results": selectors.results(request.tenant, monitor)[:25],
        "incidents": selectors.incidents(monitor)[:10],
        "form": form or MonitorForm(initial={**MonitorForm.initial_for(monitor),
                                             "escalation_policy": monitor.escalation_policy},
                                    policies=_policies(request.tenant)),
        "now": now,
    }


@tenant_object(UptimeMonitor, queryset=lambda: UptimeMonitor.objects.select_related(
    "alert_source__escalation_policy", "incident"))
def monitor_detail(request, obj):
    form = None
    if request.method == "POST":
        if not request.user.is_admin:
            raise PermissionDenied("Your role does not allow this.")
        form = MonitorForm(request.POST, policies=_policies(request.tenant))
        if form.is_valid():
            try:
                services.update_monitor(obj, **_form_values(form))
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Saved.")
                return redirect("uptime:monitor", pk=obj.pk)
    return render(request, "uptime/monitor_detail.html", _detail_context(request, obj, form))


@require_safe
@tenant_object(UptimeMonitor, queryset=lambda: UptimeMonitor.objects.select_related("incident"))
def monitor_status(request, obj):
    """The status card, refreshed by htmx."""
    return render(request, "uptime/_status.html", {"monitor": obj, "now": clock.now()})


@require_POST
@tenant_object(UptimeMonitor)
@can_write
def monitor_check_now(request, obj):
    try:
        services.check_now(obj)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Check requested.")
    return redirect("uptime:monitor", pk=obj.pk)


@require_POST
@tenant_object(UptimeMonitor)
@admin_only
def monitor_pause(request, obj):
    if obj.paused:
        services.resume(obj)
        messages.success(request, "Resumed: the next check runs now.")
    else:
        services.pause(obj)
        messages.success(request, "Paused: no checks until you resume it.")
    return redirect("uptime:monitor", pk=obj.pk)


@require_POST
@tenant_object(UptimeMonitor)
@admin_only
def monitor_delete(request, obj):
    name = obj.name
    services.delete_monitor(obj)
    messages.success(request, f"Monitor {name} deleted.")
    return redirect("uptime:monitors")


@require_safe
@login_required
def home_panel(request):
    monitors = _tiles(request)
    down = [m for m in monitors if m.status == "down" and not m.paused]
    return render(request, "uptime/_home_panel.html", {
        "monitors": monitors[:120], "more": max(0, len(monitors) - 120), "down": down,
        "counts": selectors.status_counts(request.tenant),
        "stale_after": clock.now() - timedelta(hours=1),
    })
