"""REST resources: /api/v1/connectors, /connections (+ /run, /invocations), /connection-invocations
(+ /retry). Credentials are write-only: accepted on create/update, never returned (responses list
only the names of the credentials that are set)."""

from django.conf import settings as dj_settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from alerts.models import AlertSource, Incident
from ilert import secrets
from ilert.api import TenantViewSet
from ilert.tenancy import TenantRelatedField

from . import selectors, services
from .models import Connection, ConnectionInvocation, Connector, Kind


def slack_interactivity_url(connector, viewer):
    """The URL to paste into Slack; its token addresses the connector, so read-only roles see it masked."""
    url = dj_settings.SITE_URL + reverse("connectors:slack-interactivity", args=["TOKEN"])
    token = connector.inbound_token
    if viewer is None or not viewer.can_write:
        token = secrets.mask(token)
    return url.replace("/TOKEN/", f"/{token}/")


class ConnectorSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=Kind.choices)
    settings = serializers.JSONField(required=False, help_text="Kind-specific settings (docs/connectors.md).")
    credentials = serializers.JSONField(
        write_only=True, required=False,
        help_text="Kind-specific secrets. Write-only: never returned. On update, a value replaces the stored one, "
                  "an empty value keeps it, null removes it; when a setting that says where they are sent changes "
                  "(a URL, an endpoint, a function), each stored credential must be sent again or removed.")
    credentials_set = serializers.SerializerMethodField(help_text="Names of the credentials that are set.")
    slack_interactivity_url = serializers.SerializerMethodField()

    class Meta:
        model = Connector
        fields = ["id", "kind", "name", "settings", "credentials", "credentials_set", "enabled",
                  "slack_interactivity_url", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_credentials_set(self, connector) -> list[str]:
        return connector.credential_names

    def get_slack_interactivity_url(self, connector) -> str | None:
        if connector.kind != Kind.SLACK:
            return None
        request = self.context.get("request")
        return slack_interactivity_url(connector, request.user if request else None)

    def validate_credentials(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    def validate_settings(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class ConnectionSerializer(serializers.ModelSerializer):
    alert_source = TenantRelatedField(queryset=AlertSource.objects.all())
    connector = TenantRelatedField(queryset=Connector.objects.all())
    action = serializers.CharField(required=False, help_text="Defaults to the connector kind's only action.")
    events = serializers.JSONField(required=False, help_text="Incident events that trigger it (automatic mode).")
    params = serializers.JSONField(required=False, help_text="Parameters for the action (docs/connectors.md).")

    class Meta:
        model = Connection
        fields = ["id", "name", "alert_source", "connector", "action", "trigger_mode", "events", "params",
                  "enabled", "created_at"]
        read_only_fields = ["id", "created_at"]


class InvocationSerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(read_only=True)

    class Meta:
        model = ConnectionInvocation
        fields = ["id", "webhook_id", "connection", "incident", "event", "manual", "requested_by", "status",
                  "attempts", "due_at", "last_attempt_at", "finished_at", "http_status", "message", "error", "summary",
                  "external_ref", "external_url", "created_at"]
        read_only_fields = fields


class RunSerializer(serializers.Serializer):
    incident = TenantRelatedField(queryset=Incident.objects.all())


TestResultSerializer = inline_serializer("ConnectorTestResult", {
    "ok": serializers.BooleanField(), "message": serializers.CharField(),
    "http_status": serializers.IntegerField(allow_null=True),
})


class ConnectorViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    """Connectors: a tenant's credentials for one external system. Admins manage them."""

    serializer_class = ConnectorSerializer
    write_roles = ("admin",)
    filterset_fields = ["kind", "enabled"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "kind"]
    ordering = ["name"]

    def get_queryset(self):
        return selectors.connectors(self.tenant)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connector = services.create_connector(self.tenant, **serializer.validated_data)
        body = ConnectorSerializer(connector, context=self.get_serializer_context()).data
        if connector.generated_secret:
            # The one and only time a generated signing secret is shown.
            body["generated_signing_secret"] = connector.generated_secret
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        services.update_connector(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_connector(instance)

    @extend_schema(request=None, responses=TestResultSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        outcome = services.test_connector(self.get_object())
        return Response({"ok": outcome.ok, "message": outcome.message, "http_status": outcome.http_status})


class ConnectionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    """Connections: an alert source's use of a connector. Admins manage them; responders may run them."""

    serializer_class = ConnectionSerializer
    filterset_fields = ["alert_source", "connector", "trigger_mode", "enabled"]
    ordering_fields = ["created_at"]
    ordering = ["created_at"]

    @property
    def write_roles(self):
        return ("admin", "responder") if getattr(self, "action", None) == "run" else ("admin",)

    def get_queryset(self):
        return selectors.connections(self.tenant)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.create_connection(data.pop("alert_source"), data.pop("connector"), **data)

    def perform_update(self, serializer):
        services.update_connection(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_connection(instance)

    @extend_schema(request=RunSerializer, responses={202: InvocationSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        connection = self.get_object()
        payload = RunSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        invocation = services.run_now(connection, payload.validated_data["incident"], by=request.user)
        invocation.refresh_from_db()
        return Response(InvocationSerializer(invocation).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=InvocationSerializer(many=True))
    @action(detail=True, methods=["get"])
    def invocations(self, request, pk=None):
        queryset = selectors.invocations_of_connection(self.get_object())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(InvocationSerializer(page, many=True).data)


class ConnectionInvocationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Invocations: one row per attempted action. Filter by `incident` or `connection`."""

    serializer_class = InvocationSerializer
    write_roles = ("admin", "responder")
    filterset_fields = ["incident", "connection", "status", "event"]
    ordering_fields = ["created_at", "status"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.invocations(self.tenant)

    @extend_schema(request=None, responses={202: InvocationSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        invocation = services.retry(self.get_object(), by=request.user)
        return Response(InvocationSerializer(invocation).data, status=status.HTTP_202_ACCEPTED)


routes = [
    ("connectors", ConnectorViewSet),
    ("connections", ConnectionViewSet),
    ("connection-invocations", ConnectionInvocationViewSet),
]
