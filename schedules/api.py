"""REST resources: /api/v1/schedules (+ /{id}/on-call, /timeline, /overrides, /import, /feed),
/layers, /overrides, /static-shifts, /on-call (everyone on call now) and /shifts (a user's shifts).

Times: responses are UTC ISO 8601 (`2025-03-30T07:00:00Z`). Request times with an offset are
instants; without one they are wall-clock times in the schedule's zone (read by the DST rule in
schedules.resolution); a bare date is midnight there. `rotation_start` is always a wall-clock time.
"""

import zoneinfo
from datetime import timedelta

from django.urls import re_path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, mixins, parsers, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import selectors as account_selectors
from ilert import clock, secrets
from ilert.api import TenantViewSet
from ilert.errors import DomainError

from . import inputs, selectors, services
from .models import Schedule, Shift
from .serializers import (
    FeedSerializer,
    LayerSerializer,
    OnCallSerializer,
    OverrideSerializer,
    ScheduleOverrideSerializer,
    ScheduleSerializer,
    ShiftSerializer,
    TimelineSerializer,
    UserShiftSerializer,
    segment_data,
    source_ref,
    user_ref,
)

MAX_WINDOW = timedelta(days=366)


class CalendarParser(parsers.BaseParser):
    media_type = "text/calendar"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"ics": stream.read()}




# --- helpers -----------------------------------------------------------------------------------


def _param_instant(request, name, tz, default):
    value = request.query_params.get(name)
    if value in (None, ""):
        return default
    return inputs.parse_instant(value, tz, name)


def _window(request, tz, default_length):
    since = _param_instant(request, "since", tz, clock.now())
    until = _param_instant(request, "until", tz, since + default_length)
    if until <= since:
        raise DomainError("until must be after since.", field="until")
    if until - since > MAX_WINDOW:
        raise DomainError("At most 366 days per request.", field="until")
    return since, until


def _on_call_items(schedules, at):
    field = serializers.DateTimeField()
    found = selectors.current_and_next(schedules, at)
    items = []
    for schedule in schedules:
        segment, until = found[schedule.pk]
        items.append({
            "id": schedule.pk,
            "schedule": {"id": schedule.pk, "name": schedule.name, "timezone": schedule.timezone},
            "at": field.to_representation(at),
            "user": user_ref(segment.user if segment else None),
            "source": source_ref(segment.source if segment else None),
            "until": field.to_representation(until) if until else None,
        })
    return items


def _feed_url(request, feed):
    if feed is None:
        return None
    mine = request.user.can_write or feed.user_id == request.user.pk  # read-only roles see others' masked
    token = feed.token if mine else secrets.mask(feed.token)
    return request.build_absolute_uri(reverse("schedules:feed", args=["TOKEN"])).replace("/TOKEN", "/" + token)


AT = OpenApiParameter("at", OpenApiTypes.DATETIME, description="Default: now. Without an offset: the schedule's zone.")
SINCE = OpenApiParameter("since", OpenApiTypes.DATETIME, description="Default: now.")
UNTIL = OpenApiParameter("until", OpenApiTypes.DATETIME, description="Default: since + 7 days (at most 366).")


# --- viewsets ----------------------------------------------------------------------------------


class ScheduleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    """On-call schedules. Admins create and change them; everyone reads them."""

    serializer_class = ScheduleSerializer
    filterset_fields = ["kind", "team"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    @property
    def write_roles(self):
        if getattr(self, "action", None) in ("overrides", "feed"):
            return ("admin", "responder")
        return ("admin",)

    def get_queryset(self):
        return selectors.schedules(self.tenant)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_schedule(
            self.tenant, name=data["name"], timezone=data["timezone"], kind=data.get("kind", "recurring"),
            description=data.get("description", ""), team=data.get("team"),
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        services.update_schedule(serializer.instance, **data)

    def perform_destroy(self, instance):
        services.delete_schedule(instance)

    @extend_schema(parameters=[AT], responses=OnCallSerializer)
    @action(detail=True, methods=["get"], url_path="on-call")
    def on_call(self, request, pk=None):
        """Who is on call at `at` (default now); `user` is null in a gap."""
        schedule = self.get_object()
        at = _param_instant(request, "at", schedule.zone, clock.now())
        return Response(_on_call_items([schedule], at)[0])

    @extend_schema(parameters=[SINCE, UNTIL], responses=TimelineSerializer)
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        """The final timeline of [since, until) and each layer's and the overrides' bands. Gaps are
        the time between segments."""
        schedule = self.get_object()
        since, until = _window(request, schedule.zone, timedelta(days=7))
        result = selectors.resolve(schedule, since, until)
        field = serializers.DateTimeField()
        return Response({
            "schedule": schedule.pk,
            "timezone": schedule.timezone,
            "since": field.to_representation(since),
            "until": field.to_representation(until),
            "final": [segment_data(s) for s in result.final],
            "layers": [{"id": layer.id, "name": layer.name, "segments": [segment_data(s) for s in segments]}
                       for layer, segments in result.layers],
            "overrides": [segment_data(s) for s in result.overrides],
        })

    @extend_schema(methods=["get"], responses=ScheduleOverrideSerializer(many=True))
    @extend_schema(methods=["post"], request=ScheduleOverrideSerializer, responses={201: ScheduleOverrideSerializer})
    @action(detail=True, methods=["get", "post"], serializer_class=ScheduleOverrideSerializer)
    def overrides(self, request, pk=None):
        """This schedule's overrides (GET) or a new one (POST; responders only for themselves)."""
        schedule = self.get_object()
        if request.method == "POST":
            serializer = ScheduleOverrideSerializer(data=request.data, context=self.get_serializer_context())
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            override = services.create_override(schedule, user=data.get("user") or request.user,
                                                start=data["start"], end=data["end"], by=request.user)
            return Response(ScheduleOverrideSerializer(override).data, status=status.HTTP_201_CREATED)
        queryset = selectors.overrides(self.tenant).filter(schedule=schedule).order_by("start", "id")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ScheduleOverrideSerializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": inline_serializer("IcsUpload", {
            "file": serializers.FileField(), "replace": serializers.BooleanField(required=False)}),
            "text/calendar": OpenApiTypes.BINARY},
        responses={201: ShiftSerializer(many=True)},
    )
    @action(detail=True, methods=["post"], url_path="import",
            parser_classes=[parsers.MultiPartParser, parsers.FormParser, CalendarParser])
    def import_ics(self, request, pk=None):
        """Import an .ics file into a static schedule: multipart `file` (and `replace=true` to drop
        the existing shifts), or the file itself as a text/calendar body (`?replace=true`)."""
        schedule = self.get_object()
        upload = request.data.get("file")
        data = upload.read() if hasattr(upload, "read") else request.data.get("ics")
        if not data:
            raise DomainError("Upload the .ics file as `file` (multipart) or as a text/calendar body.",
                              field="file")
        replace = str(request.data.get("replace", request.query_params.get("replace", ""))).lower() in (
            "1", "true", "yes", "on")
        created = services.import_ics(schedule, data, replace=replace)
        return Response(ShiftSerializer(created, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["get", "post", "delete"], request=None, responses=FeedSerializer)
    @action(detail=True, methods=["get", "post", "delete"])
    def feed(self, request, pk=None):
        """The secret iCalendar URL of this schedule's final timeline: GET shows it, POST creates it
        (or gives it a new URL when one exists), DELETE revokes it."""
        schedule = self.get_object()
        feed = selectors.schedule_feed(schedule)
        if request.method == "POST":
            feed = services.schedule_feed(schedule, by=request.user, regenerate=feed is not None)
        elif request.method == "DELETE":
            if feed is not None:
                services.revoke_feed(feed)
            feed = None
        return Response({"url": _feed_url(request, feed)})


class LayerViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    """Rotations of recurring schedules. Admins write."""

    serializer_class = LayerSerializer
    write_roles = ("admin",)
    filterset_fields = ["schedule"]
    ordering_fields = ["position", "created_at", "name"]
    ordering = ["schedule", "-position", "id"]

    def get_queryset(self):
        return selectors.layers(self.tenant)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_layer(
            data["schedule"], users=data["users"], rotation_start=data["rotation_start"],
            length_count=data.get("length_count", 1), length_unit=data.get("length_unit", "weeks"),
            name=data.get("name", ""), end=data.get("end"), restrictions=data.get("restrictions") or [],
            position=data.get("position"),
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("schedule", None)
        services.update_layer(serializer.instance, **data)
        serializer.instance = selectors.get_layer(self.tenant, serializer.instance.pk)

    def perform_destroy(self, instance):
        services.delete_layer(instance)


class OverrideViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    """Overrides win over every layer and shift. Responders manage their own; admins anyone's."""

    serializer_class = OverrideSerializer
    filterset_fields = ["schedule", "user"]
    ordering_fields = ["start", "end", "created_at"]
    ordering = ["start", "id"]

    def get_queryset(self):
        return selectors.overrides(self.tenant)

    def get_object(self):
        override = super().get_object()
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):  # who may, before what the body says
            services.may_override(self.request.user, override.user)
        return override

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_override(
            data["schedule"], user=data.get("user") or self.request.user, start=data["start"], end=data["end"],
            by=self.request.user,
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("schedule", None)
        services.update_override(serializer.instance, by=self.request.user, **data)

    def perform_destroy(self, instance):
        services.delete_override(instance, by=self.request.user)


class StaticShiftViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    """Explicit shifts of static schedules (they never overlap). Admins write."""

    serializer_class = ShiftSerializer
    write_roles = ("admin",)
    filterset_fields = ["schedule", "user"]
    ordering_fields = ["start", "end"]
    ordering = ["start", "id"]

    def get_queryset(self):
        return selectors.shifts(self.tenant)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_shift(data["schedule"], user=data["user"], start=data["start"],
                                                    end=data["end"])

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("schedule", None)
        services.update_shift(serializer.instance, **data)

    def perform_destroy(self, instance):
        services.delete_shift(instance)


class OnCallViewSet(mixins.ListModelMixin, TenantViewSet):
    """Who is on call at `at` (default now) in every schedule of the organisation. Each item's
    `id` is the schedule's."""

    queryset = Schedule.objects.all()
    serializer_class = OnCallSerializer
    filter_backends = []

    @extend_schema(parameters=[AT], responses=OnCallSerializer(many=True))
    def list(self, request, *args, **kwargs):
        at = _param_instant(request, "at", _tenant_zone(request.user), clock.now())
        page = self.paginate_queryset(selectors.schedules(self.tenant).order_by("name", "id"))
        return self.get_paginated_response(_on_call_items(list(page), at))


def _tenant_zone(user):
    return zoneinfo.ZoneInfo(user.timezone or user.tenant.timezone)


class UserShiftsView(generics.GenericAPIView):
    """A user's on-call time across all schedules (default: you; since default now, until default
    since + 14 days, at most 366 days), clipped to the window, by start."""

    serializer_class = UserShiftSerializer
    queryset = Shift.objects.none()  # for the schema only: items are computed

    @extend_schema(
        parameters=[OpenApiParameter("user", OpenApiTypes.INT, description="Default: you."), SINCE,
                    OpenApiParameter("until", OpenApiTypes.DATETIME, description="Default: since + 14 days.")],
        responses=UserShiftSerializer(many=True),
    )
    def get(self, request):
        user_id = request.query_params.get("user")
        user = request.user if user_id in (None, "") else account_selectors.get_user(request.user.tenant, user_id)
        since, until = _window(request, _tenant_zone(request.user), timedelta(days=14))
        field = serializers.DateTimeField()
        items = [{
            "schedule": {"id": shift.schedule.pk, "name": shift.schedule.name,
                         "timezone": shift.schedule.timezone},
            "user": user_ref(shift.user),
            "start": field.to_representation(shift.start),
            "end": field.to_representation(shift.end),
            "source": source_ref(shift.source),
        } for shift in selectors.upcoming_shifts(user, since, until)]
        page = self.paginate_queryset(items)
        return self.get_paginated_response(page)


routes = [
    ("schedules", ScheduleViewSet),
    ("layers", LayerViewSet),
    ("overrides", OverrideViewSet),
    ("static-shifts", StaticShiftViewSet),
    ("on-call", OnCallViewSet),
]
api_urlpatterns = [re_path(r"^shifts/?$", UserShiftsView.as_view(), name="user-shifts")]
