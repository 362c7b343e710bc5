"""Dashboard: the policy list, the policy editor and the escalation panel of the incident page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts import selectors as account_selectors
from alerts.models import Incident, LogKind
from ilert import clock
from ilert.dashboard import admin_only, tenant_object
from ilert.errors import DomainError
from schedules import selectors as schedule_selectors

from . import engine, selectors, services, targets
from .forms import LevelForm, PolicyForm
from .models import EscalationLevel, EscalationPolicy


def _level_form(request, data=None, initial=None, *, auto_id):
    """Each level's form has ids of its own (`auto_id`): a label of one form never ticks a box of another."""
    return LevelForm(data, initial=initial, users=account_selectors.users(request.tenant, include_inactive=False),
                     teams=account_selectors.teams(request.tenant),
                     schedules=schedule_selectors.schedules(request.tenant), auto_id=auto_id)


NEW_LEVEL_IDS = "new-level-%s"


def _level_ids(level):
    return f"level-{level.pk}-%s"


def _reaches_nobody(form):
    data = form.cleaned_data
    return not (data.get("users") or data.get("teams") or data.get("schedules"))


def _nobody_warning(policy, position, count):
    """What saving a level that names nobody at `position` (of `count` levels) will do."""
    if count == 1:
        return (f"This level names nobody, and it is the only one: incidents of the alert sources using "
                f"{policy.name} will page nobody at all.")
    if position < count:
        return (f"Level {position} names nobody: every incident skips it at once and goes straight to "
                f"level {position + 1}.")
    ending = " before the policy starts again from level 1" if policy.repeat_count else ": escalation ends there"
    return f"Level {position} names nobody: as the last level it is skipped at once{ending}."


def _reach_now(policy, now):
    """Per level, who it reaches right now (for the editor and the 'nobody reachable' warning)."""
    return [(level, targets.reach(level, now)[0]) for level in policy.levels.order_by("position")]


@login_required
def policies(request):
    form = PolicyForm(request.POST or None)
    if request.method == "POST":
        if not request.user.is_admin:
            raise PermissionDenied("Your role does not allow this.")
        if form.is_valid():
            try:
                policy = services.create_policy(request.tenant, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, f"Policy {policy.name} created. Add its levels below.")
                return redirect("escalation:policy", pk=policy.pk)
    now = clock.now()
    rows = []
    for policy in selectors.policies(request.tenant):
        reach = _reach_now(policy, now)
        rows.append({"policy": policy, "levels": len(reach), "nobody": not any(users for _, users in reach)})
    return render(request, "escalation/policies.html", {"rows": rows, "form": form})


@tenant_object(EscalationPolicy)
def policy_detail(request, obj):
    initial = {"name": obj.name, "description": obj.description, "repeat_count": obj.repeat_count,
               "routing_key": obj.routing_key}
    form = PolicyForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not request.user.is_admin:
            raise PermissionDenied("Your role does not allow this.")
        if "delete" in request.POST:
            services.delete_policy(obj)
            messages.success(request, f"Policy {obj.name} deleted.")
            return redirect("escalation:policies")
        if form.is_valid():
            try:
                services.update_policy(obj, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Policy saved.")
                return redirect("escalation:policy", pk=obj.pk)
    return _policy_page(request, obj, form)


def _policy_page(request, obj, form=None, *, editing=None, new_level=None, confirm="", status=200):
    """The editor. `editing` (level, bound form) or `new_level` (bound form) show what the user typed,
    with its errors beside the fields or `confirm`: the question a level that names nobody asks."""
    if form is None:
        form = PolicyForm(initial={"name": obj.name, "description": obj.description,
                                   "repeat_count": obj.repeat_count, "routing_key": obj.routing_key})
    levels = []
    for level, reached in _reach_now(obj, clock.now()):
        if editing is not None and editing[0].pk == level.pk:
            levels.append({"level": level, "form": editing[1], "reached": reached, "confirm": confirm})
            continue
        initial = {"timeout_minutes": level.timeout_minutes, "notify_mode": level.notify_mode,
                   "users": list(level.users.all()), "teams": list(level.teams.all()),
                   "schedules": list(level.schedules.all())}
        levels.append({"level": level, "form": _level_form(request, initial=initial, auto_id=_level_ids(level)),
                       "reached": reached})
    return render(request, "escalation/policy_detail.html", {
        "policy": obj, "form": form, "levels": levels,
        "new_level": new_level or _level_form(request, auto_id=NEW_LEVEL_IDS),
        "new_confirm": confirm if new_level is not None else "", "sources": obj.alert_sources.all(),
    }, status=status)


def _level_data(form):
    return dict(form.cleaned_data)


@require_POST
@tenant_object(EscalationPolicy)
@admin_only
def level_add(request, obj):
    form = _level_form(request, request.POST, auto_id=NEW_LEVEL_IDS)
    if not form.is_valid():
        return _policy_page(request, obj, new_level=form, status=400)
    if _reaches_nobody(form) and not request.POST.get("confirm_empty"):
        count = obj.levels.count() + 1
        return _policy_page(request, obj, new_level=form, confirm=_nobody_warning(obj, count, count))
    try:
        services.add_level(obj, **_level_data(form))
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _policy_page(request, obj, new_level=form, status=400)
    messages.success(request, "Level added.")
    return redirect("escalation:policy", pk=obj.pk)


@require_POST
@tenant_object(EscalationLevel)
@admin_only
def level_edit(request, obj):
    if "delete" in request.POST:
        services.delete_level(obj)
        messages.success(request, f"Level {obj.position} removed.")
    elif "up" in request.POST or "down" in request.POST:
        services.move_level(obj, obj.position - 1 if "up" in request.POST else obj.position + 1)
    else:
        form = _level_form(request, request.POST, auto_id=_level_ids(obj))
        if not form.is_valid():
            return _policy_page(request, obj.policy, editing=(obj, form), status=400)
        if _reaches_nobody(form) and not request.POST.get("confirm_empty"):
            warning = _nobody_warning(obj.policy, obj.position, obj.policy.levels.count())
            return _policy_page(request, obj.policy, editing=(obj, form), confirm=warning)
        try:
            services.update_level(obj, **_level_data(form))
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return _policy_page(request, obj.policy, editing=(obj, form), status=400)
        messages.success(request, f"Level {obj.position} saved.")
    return redirect("escalation:policy", pk=obj.policy_id)


@require_safe
@tenant_object(Incident)
def incident_panel(request, obj):
    steps = obj.log_entries.filter(kind=LogKind.ESCALATED).order_by("at", "id")
    warnings = obj.log_entries.filter(kind=LogKind.WARNING, via="escalation").order_by("-at")[:3]
    levels = obj.escalation_policy.levels.count() if obj.escalation_policy else 0
    return render(request, "escalation/_incident_panel.html", {
        "incident": obj, "steps": steps, "warnings": warnings, "levels": levels, "now": clock.now(),
        "next": engine.preview(obj),
    })
