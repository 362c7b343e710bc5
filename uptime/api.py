"""REST resources: /api/v1/uptime-monitors (+ /results, /stats, /incidents, /check-now) and the flat
/api/v1/uptime-results?monitor=<id>."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from alerts.api import IncidentSerializer
from alerts.models import AlertSource
from escalation.models import EscalationPolicy
from ilert.api import TenantViewSet
from ilert.filters import IdFilter, UTCDateTimeFilter
from ilert.tenancy import TenantRelatedField

from . import selectors, services, stats
from .models import CheckResult, Outcome, UptimeMonitor

STATE_FIELDS = [
    "status", "consecutive_failures", "failing_since", "down_since", "last_checked_at", "last_response_ms",
    "last_message", "incident", "next_check_at", "created_at",
]


class MonitorSerializer(serializers.ModelSerializer):
    alert_source = TenantRelatedField(
        queryset=AlertSource.objects.all(), allow_null=True, required=False,
        help_text="The alert source it reports to; left out on create, one is created for the monitor.",
    )
    escalation_policy = TenantRelatedField(
        queryset=EscalationPolicy.objects.all(), allow_null=True, required=False,
        help_text="Set on the monitor's alert source (the policy belongs to the source).",
    )
    http_headers = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False,
        help_text="Request headers. Values are write-only: read back masked (••••••••); sending a masked "
                  "value back keeps the stored one, unless `target` changes (then enter the values again). "
                  "Sent only to the target's origin, never after a redirect to another one.")
    port = serializers.IntegerField(allow_null=True, required=False, min_value=1, max_value=65535)

    class Meta:
        model = UptimeMonitor
        fields = [
            "id", "name", "check_type", "target", "port", "interval_seconds", "timeout_seconds", "retries",
            "alert_source", "escalation_policy", "paused",
            "http_method", "http_headers", "http_body", "expected_status", "follow_redirects", "keyword",
            "keyword_mode", "max_response_ms", "verify_tls", "tls_expiry_days",
            "dns_record_type", "dns_expected", "dns_server", *STATE_FIELDS,
        ]
        read_only_fields = ["id", *STATE_FIELDS]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["http_headers"] = instance.masked_headers  # any value may be a credential: never shown
        return data


class ResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckResult
        fields = ["id", "monitor", "checked_at", "outcome", "response_ms", "status_code", "message", "lateness_ms",
                  "weight_seconds"]
        read_only_fields = fields


class WindowSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    uptime_percent = serializers.FloatField(allow_null=True)
    checks = serializers.IntegerField()
    up = serializers.IntegerField()
    down = serializers.IntegerField()
    avg_response_ms = serializers.IntegerField(allow_null=True)
    p95_response_ms = serializers.IntegerField(allow_null=True)
    max_response_ms = serializers.IntegerField(allow_null=True)
    incidents = serializers.IntegerField()


StatsSerializer = type("UptimeStatsSerializer", (serializers.Serializer,),
                       {name: WindowSerializer() for name, *_ in stats.WINDOWS})


class ResultFilter(django_filters.FilterSet):
    # Plain ids, not model choices: another tenant's monitor id must look like any unknown id.
    monitor = IdFilter(field_name="monitor_id")
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    checked_after = UTCDateTimeFilter(field_name="checked_at", lookup_expr="gte")
    checked_before = UTCDateTimeFilter(field_name="checked_at", lookup_expr="lt")

    class Meta:
        model = CheckResult
        fields = ["monitor", "outcome"]


class MonitorFilter(django_filters.FilterSet):
    alert_source = django_filters.NumberFilter(field_name="alert_source_id")

    class Meta:
        model = UptimeMonitor
        fields = ["check_type", "status", "paused", "alert_source"]


class UptimeMonitorViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    """Uptime monitors. Admins configure them; responders may also ask for a check now."""

    serializer_class = MonitorSerializer
    filterset_class = MonitorFilter
    search_fields = ["name", "target"]
    ordering_fields = ["name", "created_at", "status", "last_checked_at"]
    ordering = ["name"]

    @property
    def write_roles(self):
        return ("admin", "responder") if self.action == "check_now" else ("admin",)

    def get_queryset(self):
        return selectors.monitors(self.tenant)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.create_monitor(
            self.tenant, name=data.pop("name"), check_type=data.pop("check_type", "http"),
            target=data.pop("target"), **data,
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_monitor(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_monitor(instance)

    @extend_schema(request=None, responses=ResultSerializer(many=True))
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        queryset = selectors.results(self.tenant, self.get_object()).order_by("-checked_at", "-id")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ResultSerializer(page, many=True).data)

    @extend_schema(request=None, responses=StatsSerializer)
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        """Uptime % (up checks among up and down ones), check counts, average and p95 response time and
        incidents opened, over the last 24 hours and the last 7, 30 and 90 days (UTC calendar days)."""
        return Response(StatsSerializer(stats.figures(self.get_object())).data)

    @extend_schema(request=None, responses=IncidentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def incidents(self, request, pk=None):
        page = self.paginate_queryset(selectors.incidents(self.get_object()))
        return self.get_paginated_response(IncidentSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(request=None, responses={202: MonitorSerializer})
    @action(detail=True, methods=["post"], url_path="check-now")
    def check_now(self, request, pk=None):
        monitor = services.check_now(self.get_object())
        monitor.refresh_from_db()
        return Response(MonitorSerializer(monitor, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class CheckResultViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Check results of all monitors, newest first; filter with ?monitor=<id>&outcome=down."""

    serializer_class = ResultSerializer
    filterset_class = ResultFilter
    ordering_fields = ["checked_at", "response_ms"]
    ordering = ["-checked_at", "-id"]

    def get_queryset(self):
        return selectors.results(self.tenant)


routes = [
    ("uptime-monitors", UptimeMonitorViewSet),
    ("uptime-results", CheckResultViewSet),
]
