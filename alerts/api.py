"""REST resources: /api/v1/alert-sources, /maintenance-windows, /incidents (+ actions)."""

import django_filters
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import User
from escalation.models import EscalationPolicy
from ilert import secrets
from ilert.api import TenantViewSet
from ilert.filters import UTCDateTimeFilter
from ilert.tenancy import TenantRelatedField

from . import selectors, services
from .ingest import EventType, InboundEvent
from .integrations import event_api, heartbeat
from .models import AlertSource, ChangeEvent, Incident, IncidentLogEntry, MaintenanceWindow, Priority


class AlertSourceSerializer(serializers.ModelSerializer):
    escalation_policy = TenantRelatedField(queryset=EscalationPolicy.objects.all(), allow_null=True, required=False)
    integration_key = serializers.CharField(read_only=True,
                                            help_text="Admins and responders: the key; read-only roles: masked.")
    options = serializers.JSONField(required=False)

    class Meta:
        model = AlertSource
        fields = [
            "id", "name", "integration_type", "integration_key", "escalation_policy", "default_priority", "status",
            "creation_mode", "auto_resolve_minutes", "options", "heartbeat_interval_seconds",
            "heartbeat_grace_seconds", "heartbeat_resolve_on_ping", "last_ping_at", "next_expected_at",
            "heartbeat_overdue", "created_at",
        ]
        read_only_fields = ["id", "integration_key", "last_ping_at", "next_expected_at", "heartbeat_overdue",
                            "created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not request.user.can_write:  # the key acts on incidents: read-only roles see it masked
            data["integration_key"] = secrets.mask(instance.integration_key)
        return data


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    alert_source = TenantRelatedField(queryset=AlertSource.objects.all())

    class Meta:
        model = MaintenanceWindow
        fields = ["id", "alert_source", "start", "end", "description"]


class EscalationStateSerializer(serializers.Serializer):
    policy = serializers.IntegerField(source="escalation_policy_id", allow_null=True)
    level = serializers.IntegerField(source="escalation_level")
    round = serializers.IntegerField(source="escalation_round")
    next_escalation_at = serializers.DateTimeField(allow_null=True)


class IncidentSerializer(serializers.ModelSerializer):
    escalation = EscalationStateSerializer(source="*", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id", "number", "summary", "details", "priority", "status", "incident_key", "alert_source", "assigned_to",
            "accepted_by", "accepted_at", "resolved_by", "resolved_at", "links", "images", "custom_details", "labels",
            "event_count", "created_at", "last_event_at", "in_maintenance", "escalation", "url",
        ]
        read_only_fields = fields

    def get_url(self, incident) -> str:
        return selectors.incident_url(incident)


class IncidentCreateSerializer(serializers.Serializer):
    alert_source = TenantRelatedField(queryset=AlertSource.objects.all())
    summary = serializers.CharField(max_length=64 * 1024)
    details = serializers.CharField(required=False, allow_blank=True, max_length=256 * 1024)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    incident_key = serializers.CharField(required=False, allow_blank=True, max_length=255)


class LogEntrySerializer(serializers.ModelSerializer):
    actor_name = serializers.CharField(source="actor.display_name", read_only=True, default=None)

    class Meta:
        model = IncidentLogEntry
        fields = ["id", "at", "kind", "actor", "actor_name", "via", "message", "data"]
        read_only_fields = fields


class CommentSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.COMMENT_MAX)


class ReassignSerializer(serializers.Serializer):
    user = TenantRelatedField(queryset=User.objects.filter(is_active=True))


class IncidentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Incident.Status.choices)
    priority = django_filters.ChoiceFilter(choices=Priority.choices)
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")
    number = django_filters.NumberFilter()

    class Meta:
        model = Incident
        fields = ["status", "alert_source", "priority", "assigned_to", "number"]


class AlertSourceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    """Alert sources: where events come from. The integration key addresses the source."""

    serializer_class = AlertSourceSerializer
    write_roles = ("admin",)
    filterset_fields = ["integration_type", "status", "escalation_policy"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_queryset(self):
        return selectors.alert_sources(self.tenant)

    def perform_create(self, serializer):
        serializer.instance = services.create_alert_source(self.tenant, **serializer.validated_data)

    def perform_update(self, serializer):
        services.update_alert_source(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_alert_source(instance)

    @extend_schema(request=None, responses=AlertSourceSerializer)
    @action(detail=True, methods=["post"], url_path="regenerate-key")
    def regenerate_key(self, request, pk=None):
        source = services.regenerate_integration_key(self.get_object())
        return Response(AlertSourceSerializer(source, context={"request": request}).data)


class MaintenanceWindowViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    serializer_class = MaintenanceWindowSerializer
    write_roles = ("admin", "responder")
    filterset_fields = ["alert_source"]
    ordering = ["-start"]

    def get_queryset(self):
        return MaintenanceWindow.objects.filter(tenant=self.tenant)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.add_maintenance_window(
            data["alert_source"], start=data["start"], end=data["end"], description=data.get("description", "")
        )

    def perform_destroy(self, instance):
        services.delete_maintenance_window(instance)


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Incidents. Create one by hand with POST (it goes through the same ingest as any event)."""

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    search_fields = ["summary", "incident_key"]
    ordering_fields = ["created_at", "number", "priority", "status", "last_event_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.incidents(self.tenant)

    def _answer(self, incident):
        incident.refresh_from_db()
        return Response(IncidentSerializer(incident, context={"request": self.request}).data)

    @extend_schema(request=IncidentCreateSerializer, responses={201: IncidentSerializer})
    def create(self, request):
        payload = IncidentCreateSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        event = InboundEvent(
            event_type=EventType.ALERT, summary=data["summary"], details=data.get("details", ""),
            priority=data.get("priority"), incident_key=data.get("incident_key", ""), via="api",
        )
        result = services.ingest(data["alert_source"], event)
        return Response(IncidentSerializer(result.incident, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._answer(services.accept(self.get_object(), by=request.user, via="api"))

    @extend_schema(request=None, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._answer(services.resolve(self.get_object(), by=request.user, via="api"))

    @extend_schema(request=None, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None):
        return self._answer(services.escalate(self.get_object(), by=request.user, via="api"))

    @extend_schema(request=ReassignSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        incident = self.get_object()
        payload = ReassignSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        return self._answer(services.assign(incident, payload.validated_data["user"], by=request.user, via="api"))

    @extend_schema(methods=["GET"], request=None, responses=LogEntrySerializer(many=True))
    @extend_schema(methods=["POST"], request=CommentSerializer, responses={201: LogEntrySerializer})
    @action(detail=True, methods=["get", "post"])
    def comments(self, request, pk=None):
        incident = self.get_object()
        if request.method == "GET":
            entries = selectors.timeline(incident).filter(kind="comment")
            return Response(LogEntrySerializer(entries, many=True).data)
        payload = CommentSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        entry = services.comment(incident, payload.validated_data["text"], by=request.user, via="api")
        return Response(LogEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=LogEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        return Response(LogEntrySerializer(selectors.timeline(self.get_object()), many=True).data)


class ChangeEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChangeEvent
        fields = ["id", "alert_source", "summary", "source", "happened_at", "received_at", "custom_details", "links"]
        read_only_fields = fields


class ChangeEventFilter(django_filters.FilterSet):
    happened_after = UTCDateTimeFilter(field_name="happened_at", lookup_expr="gte")
    happened_before = UTCDateTimeFilter(field_name="happened_at", lookup_expr="lt")

    class Meta:
        model = ChangeEvent
        fields = ["alert_source"]


class ChangeEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Change events (deploys, config changes) sent to PagerDuty-type sources: read-only, 90 days."""

    serializer_class = ChangeEventSerializer
    filterset_class = ChangeEventFilter
    ordering_fields = ["happened_at"]
    ordering = ["-happened_at", "-id"]

    def get_queryset(self):
        return selectors.changes(self.tenant)


routes = [
    ("alert-sources", AlertSourceViewSet),
    ("maintenance-windows", MaintenanceWindowViewSet),
    ("incidents", IncidentViewSet),
    ("change-events", ChangeEventViewSet),
]
api_urlpatterns = [
    path("events", event_api.receive, name="events-v1"),
    path("heartbeats/<str:key>", heartbeat.receive, name="heartbeat-v1"),
]
