"""REST resources: /api/v1/schedules (+ /{id}/on-call, /timeline, /overrides, /import, /feed),
/layers, /overrides, /static-shifts, /on-call (everyone on call now) and /shifts (a user's shifts).

Times: responses are UTC ISO 8601 (`2025-03-30T07:00:00Z`). Request times with an offset are
instants; without one they are wall-clock times in the schedule's zone (read by the DST rule in
schedules.resolution); a bare date is midnight there. `rotation_start` is always a wall-clock time.
"""

from datetime import timedelta

from django.urls import re_path
from django.utils import timezone as dj_timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, mixins, parsers, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.models import Team, User
from ilert import clock, secrets
from ilert.api import TenantViewSet
from ilert.errors import DomainError
from ilert.tenancy import TenantRelatedField

from . import selectors, services
from .models import Layer, Override, Schedule, Shift

MAX_WINDOW = timedelta(days=366)


def _related(model, label, **kwargs):
    return TenantRelatedField(
        queryset=model.objects.all(),
        error_messages={"does_not_exist": f"No {label} with id {{pk_value}} in this organisation.",
                        "incorrect_type": f"A {label} id (a number) is required."},
        **kwargs,
    )


class InstantField(serializers.DateTimeField):
    """ISO 8601. With an offset: that instant. Without: a wall-clock time in the schedule's zone
    (converted by the service, which knows the schedule)."""

    def enforce_timezone(self, value):
        return value if dj_timezone.is_naive(value) else super().enforce_timezone(value)


class WallClockField(serializers.DateTimeField):
    """A wall-clock date-time in the schedule's zone, e.g. 2025-03-03T09:00 (an offset is accepted
    and converted to the schedule's wall clock)."""

    def enforce_timezone(self, value):
        return value

    def to_representation(self, value):
        return value.isoformat(timespec="minutes") if value is not None else None


class CalendarParser(parsers.BaseParser):
    media_type = "text/calendar"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"ics": stream.read()}


# --- serializers -------------------------------------------------------------------------------


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


def _user_ref(user):
    return None if user is None else {"id": user.pk, "name": user.display_name, "email": user.email}


class SourceSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="layer, override or shift")
    id = serializers.IntegerField()
    name = serializers.CharField()


def _source(source):
    return None if source is None else {"type": source.kind, "id": source.id, "name": source.name}


class SegmentSerializer(serializers.Serializer):
    user = UserRefSerializer()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    source = SourceSerializer()


def _segment(segment):
    field = serializers.DateTimeField()
    return {"user": _user_ref(segment.user), "start": field.to_representation(segment.start),
            "end": field.to_representation(segment.end), "source": _source(segment.source)}


class ScheduleSerializer(serializers.ModelSerializer):
    team = _related(Team, "team", allow_null=True, required=False)

    class Meta:
        model = Schedule
        fields = ["id", "name", "timezone", "kind", "description", "team", "created_at"]
        read_only_fields = ["id", "created_at"]


class LayerSerializer(serializers.ModelSerializer):
    schedule = _related(Schedule, "schedule")
    users = _related(User, "user", many=True,
                     help_text="User ids in rotation order; a user may appear more than once.")
    rotation_start = WallClockField(help_text="The first handoff, wall clock in the schedule's zone.")
    handoff_time = serializers.TimeField(read_only=True, format="%H:%M")
    end = InstantField(allow_null=True, required=False)
    restrictions = serializers.JSONField(
        required=False,
        help_text='[{"type": "time_of_day", "start": "18:00", "end": "08:00"}, {"type": "time_of_week", '
                  '"start_day": "mon", "start": "09:00", "end_day": "fri", "end": "17:00"}]',
    )
    position = serializers.IntegerField(required=False, min_value=0, help_text="Higher layers win.")

    class Meta:
        model = Layer
        fields = ["id", "schedule", "name", "position", "users", "rotation_start", "handoff_time", "length_count",
                  "length_unit", "end", "restrictions", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"name": {"required": False}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["users"] = [m.user_id for m in instance.memberships.all()]
        return data

    def validate_schedule(self, value):
        if self.instance is not None and value.pk != self.instance.schedule_id:
            raise serializers.ValidationError("A layer cannot move to another schedule.")
        return value


class OverrideSerializer(serializers.ModelSerializer):
    schedule = _related(Schedule, "schedule")
    user = _related(User, "user", required=False, help_text="Default: you.")
    start = InstantField()
    end = InstantField()

    class Meta:
        model = Override
        fields = ["id", "schedule", "user", "start", "end", "created_by", "created_at"]
        read_only_fields = ["id", "created_by", "created_at"]

    def validate_schedule(self, value):
        if self.instance is not None and value.pk != self.instance.schedule_id:
            raise serializers.ValidationError("An override cannot move to another schedule.")
        return value


class ScheduleOverrideSerializer(OverrideSerializer):
    schedule = serializers.PrimaryKeyRelatedField(read_only=True)


class ShiftSerializer(serializers.ModelSerializer):
    schedule = _related(Schedule, "schedule")
    user = _related(User, "user")
    start = InstantField()
    end = InstantField()

    class Meta:
        model = Shift
        fields = ["id", "schedule", "user", "start", "end", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_schedule(self, value):
        if self.instance is not None and value.pk != self.instance.schedule_id:
            raise serializers.ValidationError("A shift cannot move to another schedule.")
        return value


class ScheduleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    timezone = serializers.CharField()


class OnCallSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The schedule's id")
    schedule = ScheduleRefSerializer()
    at = serializers.DateTimeField()
    user = UserRefSerializer(allow_null=True, help_text="null: nobody is on call (a gap)")
    source = SourceSerializer(allow_null=True)
    until = serializers.DateTimeField(
        allow_null=True,
        help_text="When this user's shift ends (in a gap: when someone is next on call); null when that is "
                  "more than 31 days away.")


class LayerTimelineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    segments = SegmentSerializer(many=True)


class TimelineSerializer(serializers.Serializer):
    schedule = serializers.IntegerField()
    timezone = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    final = SegmentSerializer(many=True, help_text="Who is on call; the time between segments is a gap.")
    layers = LayerTimelineSerializer(many=True, help_text="Each layer's own band, highest first.")
    overrides = SegmentSerializer(many=True)


class UserShiftSerializer(serializers.Serializer):
    schedule = ScheduleRefSerializer()
    user = UserRefSerializer()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    source = SourceSerializer()


class FeedSerializer(serializers.Serializer):
    url = serializers.URLField(allow_null=True, help_text="Secret iCalendar URL; null when there is none.")


# --- helpers -----------------------------------------------------------------------------------


def _param_instant(request, name, tz, default):
    value = request.query_params.get(name)
    if value in (None, ""):
        return default
    return services.parse_instant(value, tz, name)


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
            "user": _user_ref(segment.user if segment else None),
            "source": _source(segment.source if segment else None),
            "until": field.to_representation(until) if until else None,
        })
    return items


def _feed_url(request, feed):
    from django.urls import reverse

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
            "final": [_segment(s) for s in result.final],
            "layers": [{"id": layer.id, "name": layer.name, "segments": [_segment(s) for s in segments]}
                       for layer, segments in result.layers],
            "overrides": [_segment(s) for s in result.overrides],
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
    import zoneinfo

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
            "user": _user_ref(shift.user),
            "start": field.to_representation(shift.start),
            "end": field.to_representation(shift.end),
            "source": _source(shift.source),
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
