"""The API's shapes of schedules, layers, overrides, static shifts, on-call answers and timelines
(schedules/api.py). Times: UTC ISO 8601 out; in, with an offset an instant, without one a
wall-clock time in the schedule's zone (converted by the services, which know the schedule)."""

from django.utils import timezone as dj_timezone
from rest_framework import serializers

from accounts.models import Team, User
from ilert.tenancy import TenantRelatedField

from .models import Layer, Override, Schedule, Shift


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


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


def user_ref(user):
    return None if user is None else {"id": user.pk, "name": user.display_name, "email": user.email}


class SourceSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="layer, override or shift")
    id = serializers.IntegerField()
    name = serializers.CharField()


def source_ref(source):
    return None if source is None else {"type": source.kind, "id": source.id, "name": source.name}


class SegmentSerializer(serializers.Serializer):
    user = UserRefSerializer()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    source = SourceSerializer()


def segment_data(segment):
    field = serializers.DateTimeField()
    return {"user": user_ref(segment.user), "start": field.to_representation(segment.start),
            "end": field.to_representation(segment.end), "source": source_ref(segment.source)}


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
