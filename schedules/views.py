"""Dashboard pages: schedules, the timeline page (bands per layer, overrides, final), layer and
override editors, static shifts and .ics import, calendar links, the home and profile panels, and
the secret iCalendar feeds."""

import zoneinfo
from datetime import date, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from accounts import selectors as account_selectors
from ilert import clock, secrets
from ilert.dashboard import admin_only, can_write, tenant_object
from ilert.errors import DomainError

from . import ical, inputs, selectors, services
from .forms import ImportForm, LayerForm, OverrideForm, ScheduleForm, ShiftForm
from .models import Layer, Override, Schedule, Shift
from .resolution import Segment, Source, utc_to_wall, wall_to_utc
from .restrictions import describe_restrictions, restrictions_as_text, restrictions_from_text

PALETTE = 8


def _form_error(form, exc):
    field = exc.field.split("[")[0] if exc.field else None
    form.add_error(field if field in form.fields else None, exc.message)


def _viewer_zone_name(user):
    return user.timezone or user.tenant.timezone or "UTC"


def _zone(name):
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _active_users(request):
    return account_selectors.users(request.tenant, include_inactive=False)


# --- list --------------------------------------------------------------------------------------


@login_required
def schedules(request):
    items = list(selectors.schedules(request.tenant))
    form = ScheduleForm(request.POST or None, teams=account_selectors.teams(request.tenant),
                        initial={"timezone": request.tenant.timezone})
    if request.method == "POST":
        if not request.user.is_admin:
            raise PermissionDenied("Your role does not allow this.")
        if form.is_valid():
            try:
                schedule = services.create_schedule(request.tenant, **form.cleaned_data)
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"Schedule {schedule.name} created.")
                return redirect("schedules:schedule", schedule.pk)
    now = clock.now()
    found = selectors.current_and_next(items, now) if items else {}
    zone = _zone(_viewer_zone_name(request.user))
    rows = []
    for schedule in items:
        segment, until = found.get(schedule.pk, (None, None))
        rows.append({"schedule": schedule, "segment": segment, "until": until})
    return render(request, "schedules/schedules.html", {"rows": rows, "form": form, "viewer_zone": zone.key})


# --- the schedule page -------------------------------------------------------------------------


def _window(view, anchor: date, zone):
    """[start, end) of the week (Monday first) or month containing `anchor`, in `zone`."""
    if view == "month":
        first = anchor.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        previous = (first - timedelta(days=1)).replace(day=1)
    else:
        first = anchor - timedelta(days=anchor.weekday())
        following = first + timedelta(days=7)
        previous = first - timedelta(days=7)
    start = wall_to_utc(datetime.combine(first, datetime.min.time()), zone)
    end = wall_to_utc(datetime.combine(following, datetime.min.time()), zone)
    return first, following, previous, start, end


def _color(user, colors):
    if user.pk not in colors:
        colors[user.pk] = len(colors) % PALETTE
    return colors[user.pk]


def _bars(segments, start, end, zone, colors):
    total = (end - start).total_seconds()
    bars = []
    for segment in segments:
        left = (segment.start - start).total_seconds() / total * 100
        width = (segment.end - segment.start).total_seconds() / total * 100
        local_start, local_end = utc_to_wall(segment.start, zone), utc_to_wall(segment.end, zone)
        bars.append({
            "segment": segment,
            "left": f"{left:.4f}", "width": f"{width:.4f}",
            "name": segment.user.display_name,
            "color": _color(segment.user, colors),
            "title": f"{segment.user.display_name}: {local_start:%a %d %b %H:%M} – {local_end:%a %d %b %H:%M}"
                     f" ({zone.key}) · {segment.source.name or segment.source.kind}",
            "start_local": local_start, "end_local": local_end,
        })
    return bars


def _ticks(first, following, view, start, end, zone):
    total = (end - start).total_seconds()
    ticks = []
    day = first
    while day < following:
        instant = wall_to_utc(datetime.combine(day, datetime.min.time()), zone)
        left = (instant - start).total_seconds() / total * 100
        label = f"{day:%a %d}" if view == "week" else (f"{day:%d}" if day.day % 2 or day.day == 1 else "")
        # Phones have ~33 px per day in a week and ~8 in a month: two short lines, or one label a week.
        short = f"{day:%a}"[:2] + f" {day:%d}" if view == "week" else (f"{day:%d}" if day.day % 7 == 1 else "")
        ticks.append({"left": f"{left:.4f}", "label": label, "short": short, "weekend": day.weekday() >= 5})
        day += timedelta(days=1)
    return ticks


def _timeline_context(request, schedule):
    view = request.GET.get("view") if request.GET.get("view") in ("week", "month") else "week"
    viewer_zone = _viewer_zone_name(request.user)
    which = request.GET.get("zone") if request.GET.get("zone") in ("schedule", "mine") else "schedule"
    zone = _zone(schedule.timezone if which == "schedule" else viewer_zone)
    now = clock.now()
    try:
        anchor = date.fromisoformat(request.GET.get("date", ""))
        if not inputs.MIN_YEAR < anchor.year < inputs.MAX_YEAR:
            raise ValueError
    except ValueError:
        anchor = utc_to_wall(now, zone).date()
    first, following, previous, start, end = _window(view, anchor, zone)
    result = selectors.resolve(schedule, start, end)
    colors = {}
    final_bars = _bars(result.final, start, end, zone, colors)
    bands = [{"label": "Final", "sub": "who is on call", "kind": "final", "bars": final_bars}]
    bands.append({"label": "Overrides", "sub": "win over everything", "kind": "overrides",
                  "bars": _bars(result.overrides, start, end, zone, colors)})
    layers = {layer.pk: layer for layer in schedule.layers.all()}
    for rule, segments in result.layers:
        layer = layers.get(rule.id)
        bands.append({"label": rule.name, "kind": "layer", "layer": layer,
                      "sub": f"every {layer.length_label} · {describe_restrictions(layer.restrictions)}"
                      if layer else "", "bars": _bars(segments, start, end, zone, colors)})
    if schedule.is_static:
        rows = selectors.shifts(request.tenant).filter(schedule=schedule, start__lt=end, end__gt=start)
        shifts = [Segment(row.user, max(row.start, start), min(row.end, end), Source("shift", row.pk, "Shift"))
                  for row in rows.order_by("start", "id")]
        bands.append({"label": "Shifts", "sub": f"{len(shifts)} in view", "kind": "shifts",
                      "bars": _bars(shifts, start, end, zone, colors)})
    now_left = None
    if start <= now < end:
        now_left = f"{(now - start).total_seconds() / (end - start).total_seconds() * 100:.4f}"
    return {
        "view": view, "zone": zone.key, "zone_which": which, "viewer_zone": viewer_zone,
        "zone_label": "the schedule's zone" if which == "schedule" else "your zone",
        "first": first, "last": following - timedelta(days=1), "previous": previous, "following": following,
        "today": utc_to_wall(now, zone).date(),
        "window_start_ms": int(start.timestamp() * 1000), "window_end_ms": int(end.timestamp() * 1000),
        "bands": bands, "ticks": _ticks(first, following, view, start, end, zone), "now_left": now_left,
        "final_bars": final_bars,
    }


@require_safe
@tenant_object(Schedule)
def schedule_detail(request, obj):
    schedule = obj
    context = _timeline_context(request, schedule)
    users = _active_users(request)
    override_users = users if request.user.is_admin else users.filter(pk=request.user.pk)
    context.update({
        "schedule": schedule,
        "layers": list(schedule.layers.prefetch_related("memberships__user")),
        "override_form": OverrideForm(users=override_users, zone=schedule.timezone,
                                      initial={"user": request.user.pk}),
        "overrides": selectors.overrides(request.tenant).filter(schedule=schedule, end__gt=clock.now())
        .order_by("start")[:50],
        "feed": selectors.schedule_feed(schedule),
    })
    if schedule.is_static:
        context["shift_form"] = ShiftForm(users=users, zone=schedule.timezone)
        context["import_form"] = ImportForm()
        context["shifts"] = selectors.shifts(request.tenant).filter(schedule=schedule, end__gt=clock.now())[:100]
    if context["feed"] is not None:
        context["feed_url"] = _feed_url(request, context["feed"])
    return render(request, "schedules/schedule.html", context)


def _new_layer_initial(schedule):
    today = utc_to_wall(clock.now(), schedule.zone).date()
    return {"start_date": today - timedelta(days=today.weekday()), "handoff_time": "09:00", "length_count": 1,
            "length_unit": Layer.Unit.WEEKS}


@tenant_object(Schedule)
@admin_only
def schedule_edit(request, obj):
    initial = {"name": obj.name, "timezone": obj.timezone, "kind": obj.kind, "description": obj.description,
               "team": obj.team}
    form = ScheduleForm(request.POST or None, initial=initial, teams=account_selectors.teams(request.tenant))
    if request.method == "POST":
        if "delete" in request.POST:
            services.delete_schedule(obj)
            messages.success(request, f"Schedule {obj.name} deleted.")
            return redirect("schedules:schedules")
        if form.is_valid():
            try:
                services.update_schedule(obj, **form.cleaned_data)
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Schedule saved.")
                return redirect("schedules:schedule", obj.pk)
    return render(request, "schedules/schedule_edit.html", {"schedule": obj, "form": form})


# --- layers ------------------------------------------------------------------------------------


def _layer_args(form):
    data = dict(form.cleaned_data)
    rotation_start = datetime.combine(data.pop("start_date"), data.pop("handoff_time"))
    restrictions = restrictions_from_text(data.pop("restrictions", ""))
    return {**data, "rotation_start": rotation_start, "restrictions": restrictions}


@tenant_object(Schedule)
@admin_only
def layer_create(request, obj):
    form = LayerForm(request.POST or None, users=_active_users(request), initial=_new_layer_initial(obj))
    if request.method == "POST" and form.is_valid():
        try:
            layer = services.create_layer(obj, **_layer_args(form))
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Layer {layer.name} added.")
            return redirect("schedules:schedule", obj.pk)
    return render(request, "schedules/layer.html", {"schedule": obj, "form": form, "layer": None})


@tenant_object(Layer)
@admin_only
def layer_edit(request, obj):
    schedule = obj.schedule
    initial = {"name": obj.name, "users": [u.pk for u in obj.ordered_users()], "start_date": obj.start_date,
               "handoff_time": obj.handoff_time, "length_count": obj.length_count, "length_unit": obj.length_unit,
               "end": utc_to_wall(obj.end, schedule.zone) if obj.end else None,
               "restrictions": restrictions_as_text(obj.restrictions)}
    form = LayerForm(request.POST or None, users=_active_users(request), initial=initial)
    if request.method == "POST":
        if "delete" in request.POST:
            services.delete_layer(obj)
            messages.success(request, f"Layer {obj.name} deleted.")
            return redirect("schedules:schedule", schedule.pk)
        if request.POST.get("move") in ("up", "down"):
            services.move_layer(obj, request.POST["move"])
            return redirect("schedules:schedule", schedule.pk)
        if form.is_valid():
            try:
                services.update_layer(obj, **_layer_args(form))
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"Layer {obj.name} saved.")
                return redirect("schedules:schedule", schedule.pk)
    return render(request, "schedules/layer.html", {"schedule": schedule, "form": form, "layer": obj})


# --- overrides and shifts ----------------------------------------------------------------------


def _back(schedule, request):
    url = reverse("schedules:schedule", args=[schedule.pk])
    query = request.POST.get("back", "")
    return redirect(f"{url}?{query}" if query and "/" not in query else url)


@require_POST
@tenant_object(Schedule)
@can_write
def override_create(request, obj):
    """From the form (wall-clock times in the schedule's zone, whatever zone the page shows) or a
    "take this shift" button (ISO instants)."""
    schedule = obj
    users = _active_users(request)
    try:
        if request.POST.get("take"):
            services.create_override(schedule, user=request.user, start=request.POST.get("start", ""),
                                     end=request.POST.get("end", ""), by=request.user)
            messages.success(request, "You took this shift.")
            return _back(schedule, request)
        form = OverrideForm(request.POST, users=users, zone=schedule.timezone)
        if not form.is_valid():
            errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
            raise DomainError(errors)
        data = form.cleaned_data
        override = services.create_override(schedule, user=data["user"], start=data["start"], end=data["end"],
                                            by=request.user)
    except DomainError as exc:
        messages.error(request, f"Override not created: {exc.message}")
        return _back(schedule, request)
    messages.success(request, f"Override for {override.user.display_name} created.")
    return _back(schedule, request)


@require_POST
@tenant_object(Override)
@can_write
def override_delete(request, obj):
    try:
        services.delete_override(obj, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Override deleted.")
    return _back(obj.schedule, request)


@require_POST
@tenant_object(Schedule)
@admin_only
def shift_create(request, obj):
    form = ShiftForm(request.POST, users=_active_users(request), zone=obj.timezone)
    try:
        if not form.is_valid():
            raise DomainError("; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        data = form.cleaned_data
        services.create_shift(obj, user=data["user"], start=data["start"], end=data["end"])
    except DomainError as exc:
        messages.error(request, f"Shift not added: {exc.message}")
    else:
        messages.success(request, "Shift added.")
    return _back(obj, request)


@require_POST
@tenant_object(Shift)
@admin_only
def shift_delete(request, obj):
    services.delete_shift(obj)
    messages.success(request, "Shift deleted.")
    return _back(obj.schedule, request)


@require_POST
@tenant_object(Schedule)
@admin_only
def import_ics(request, obj):
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose an .ics file to import.")
        return _back(obj, request)
    try:
        created = services.import_ics(obj, form.cleaned_data["file"].read(), replace=form.cleaned_data["replace"])
    except DomainError as exc:
        messages.error(request, f"Nothing imported: {exc.message}")
    else:
        messages.success(request, f"Imported {len(created)} shifts.")
    return _back(obj, request)


# --- calendar feeds ----------------------------------------------------------------------------


def _feed_url(request, feed):
    """A feed's secret URL; masked for read-only roles unless it is their own (the URL is the key
    to the calendar, and an organisation's feeds are made by those who may act)."""
    token = feed.token if request.user.can_write or feed.user_id == request.user.pk else secrets.mask(feed.token)
    return request.build_absolute_uri(reverse("schedules:feed", args=["TOKEN"])).replace("/TOKEN", "/" + token)


@require_POST
@tenant_object(Schedule)
@can_write
def schedule_feed(request, obj):
    feed = selectors.schedule_feed(obj)
    if request.POST.get("action") == "revoke":
        if feed is not None:
            services.revoke_feed(feed)
        messages.success(request, "The calendar link no longer works.")
    else:
        services.schedule_feed(obj, by=request.user, regenerate=feed is not None)
        messages.success(request, "New calendar link created." if feed else "Calendar link created.")
    return redirect("schedules:schedule", obj.pk)


@login_required
@require_POST
@can_write
def personal_feed(request):
    feed = selectors.personal_feed(request.user)
    if request.POST.get("action") == "revoke":
        if feed is not None:
            services.revoke_feed(feed)
        messages.success(request, "Your calendar link no longer works.")
    else:
        services.personal_feed(request.user, regenerate=feed is not None)
        messages.success(request, "New calendar link created." if feed else "Calendar link created.")
    return redirect("accounts:profile")


def feed(request, token):
    """The iCalendar feed a secret URL names. No login: calendar apps fetch it."""
    found = selectors.feed_by_token(token)
    if found is None or not found.user.is_active:
        raise Http404
    now = clock.now()
    start, end = services.feed_window(now)
    if found.schedule_id is not None:
        body = ical.schedule_calendar(found.schedule, selectors.timeline(found.schedule, start, end), stamp=now)
        filename = f"schedule-{found.schedule_id}.ics"
    else:
        body = ical.user_calendar(found.user, selectors.upcoming_shifts(found.user, start, end), stamp=now)
        filename = "my-shifts.ics"
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


# --- panels ------------------------------------------------------------------------------------


@require_safe
@login_required
def home_panel(request):
    items = list(selectors.schedules(request.tenant)[:50])
    zone = _zone(_viewer_zone_name(request.user))
    found = selectors.current_and_next(items, clock.now()) if items else {}
    rows = []
    for schedule in items:
        segment, until = found[schedule.pk]
        rows.append({"schedule": schedule, "segment": segment, "until": until})
    return render(request, "schedules/home_panel.html", {"rows": rows, "viewer_zone": zone.key})


@require_safe
@login_required
def profile_panel(request):
    zone = _zone(_viewer_zone_name(request.user))
    now = clock.now()
    shifts = selectors.upcoming_shifts(request.user, now, now + timedelta(days=28))
    rows = [{"shift": s, "start": s.start, "end": s.end, "now": s.start <= now} for s in shifts]
    feed = selectors.personal_feed(request.user)
    feed_url = _feed_url(request, feed) if feed else None
    return render(request, "schedules/profile_panel.html",
                  {"rows": rows, "viewer_zone": zone.key, "feed_url": feed_url})
