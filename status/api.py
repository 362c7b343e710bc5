"""REST resources: /api/v1/services (+ /status), /service-groups, /service-source-links,
/service-monitor-links, /status-pages (+ /access-link, /check-domain), /status-incidents (+ /updates; maintenance
is a status incident of kind "maintenance"), /status-subscribers, /my-service-subscriptions.

Roles (docs/permissions.md): admins manage services, groups, links and pages; responders post status
incidents, updates and maintenance and set a service's status by hand; stakeholders read, and
follow services for themselves (/my-service-subscriptions). Subscribers' addresses are shown to
admins only; other roles see their own subscription."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from alerts.models import AlertSource, Incident
from ilert.api import TenantViewSet
from ilert.tenancy import TenantRelatedField
from uptime.models import UptimeMonitor

from . import selectors, services
from .access import page_url
from .models import (
    AffectedService,
    IncidentUpdate,
    MonitorLink,
    Service,
    ServiceGroup,
    ServiceStatus,
    SourceLink,
    StatusIncident,
    StatusPage,
    Subscriber,
)
from .services import domains


class GroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceGroup
        fields = ["id", "code", "name", "description", "order", "created_at"]
        read_only_fields = ["id", "code", "created_at"]


class ServiceSerializer(serializers.ModelSerializer):
    group = TenantRelatedField(queryset=ServiceGroup.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Service
        fields = ["id", "code", "name", "description", "group", "order", "status", "base_status", "created_at",
                  "updated_at"]
        read_only_fields = ["id", "code", "status", "base_status", "created_at", "updated_at"]


class StatusBody(serializers.Serializer):
    status = serializers.ChoiceField(choices=ServiceStatus.choices)


class SourceLinkSerializer(serializers.ModelSerializer):
    service = TenantRelatedField(queryset=Service.objects.all())
    alert_source = TenantRelatedField(queryset=AlertSource.objects.all())

    class Meta:
        model = SourceLink
        fields = ["id", "service", "alert_source", "status_while_open", "restore_on_resolve"]
        read_only_fields = ["id"]


class MonitorLinkSerializer(serializers.ModelSerializer):
    service = TenantRelatedField(queryset=Service.objects.all())
    monitor = TenantRelatedField(queryset=UptimeMonitor.objects.all())

    class Meta:
        model = MonitorLink
        fields = ["id", "service", "monitor", "status_while_down", "restore_on_resolve"]
        read_only_fields = ["id"]


class PageSerializer(serializers.ModelSerializer):
    services = TenantRelatedField(queryset=Service.objects.all(), many=True, required=False)
    links = serializers.JSONField(required=False)
    allowed_email_domains = serializers.JSONField(required=False)
    url = serializers.SerializerMethodField()
    domain_verification = serializers.SerializerMethodField(
        help_text="For a custom domain: the TXT record that proves it, and whether it was found "
                  "(the page is served on the domain only once verified).")

    class Meta:
        model = StatusPage
        fields = ["id", "code", "name", "slug", "visibility", "published", "services", "description", "time_zone",
                  "custom_domain", "domain_verification", "logo_url", "brand_color", "background_color",
                  "text_color", "links", "allowed_email_domains", "url", "created_at", "changed_at"]
        read_only_fields = ["id", "code", "url", "created_at", "changed_at"]
        extra_kwargs = {"slug": {"required": False, "validators": []},
                        "custom_domain": {"validators": []}}

    def get_url(self, page) -> str:
        return page_url(page)

    def get_domain_verification(self, page) -> dict | None:
        if not page.custom_domain:
            return None
        return {"status": "verified" if page.domain_verified else "pending",
                "verified_at": page.domain_verified_at, "record_type": "TXT",
                "record_name": domains.record_name(page), "record_value": domains.record_value(page)}


class AffectedSerializer(serializers.Serializer):
    service = TenantRelatedField(queryset=Service.objects.all())
    impact = serializers.ChoiceField(choices=ServiceStatus.choices, default=ServiceStatus.PARTIAL)


class UpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = IncidentUpdate
        fields = ["id", "code", "status", "message", "at", "author", "affected_components"]
        read_only_fields = fields


class IncidentSerializer(serializers.ModelSerializer):
    message = serializers.CharField(write_only=True, help_text="The first update's text.")
    affected = AffectedSerializer(many=True, required=False)
    alert_incident = TenantRelatedField(queryset=Incident.objects.all(), allow_null=True, required=False)
    updates = UpdateSerializer(many=True, read_only=True)

    class Meta:
        model = StatusIncident
        fields = ["id", "code", "kind", "title", "status", "impact", "message", "affected", "alert_incident",
                  "restore_on_resolve", "scheduled_for", "scheduled_until", "auto_transition", "silence_sources",
                  "created_at", "updated_at", "monitoring_at", "resolved_at", "updates"]
        read_only_fields = ["id", "code", "created_at", "updated_at", "monitoring_at", "resolved_at", "updates"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["affected"] = [{"service": a.service_id, "impact": a.impact}
                            for a in AffectedService.objects.filter(incident=instance)]
        return data

    def validate(self, data):
        if data.get("kind") == StatusIncident.Kind.MAINTENANCE:
            if not data.get("scheduled_for") or not data.get("scheduled_until"):
                raise serializers.ValidationError({"scheduled_for": ["Maintenance needs a start and an end."]})
        return data


class NewUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=StatusIncident.Status.choices)
    message = serializers.CharField()
    affected = AffectedSerializer(many=True, required=False)


class SubscriberSerializer(serializers.ModelSerializer):
    page = TenantRelatedField(queryset=StatusPage.objects.all(), allow_null=True, required=False)
    services = TenantRelatedField(queryset=Service.objects.all(), many=True, required=False)
    secret = serializers.SerializerMethodField(help_text="Webhooks: the signing secret, in the creating answer only.")

    class Meta:
        model = Subscriber
        fields = ["id", "page", "kind", "email", "url", "services", "confirmed_at", "user", "created_at", "secret"]
        read_only_fields = ["id", "confirmed_at", "user", "created_at", "secret"]
        extra_kwargs = {"email": {"required": False}, "url": {"required": False}}

    def get_secret(self, subscriber) -> str | None:
        return getattr(subscriber, "new_secret", None)


class ServiceGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                          mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    """Groups of services (Statuspage's component groups)."""

    serializer_class = GroupSerializer
    write_roles = ("admin",)
    ordering = ["order", "name"]

    def get_queryset(self):
        return selectors.groups(self.tenant)

    def perform_create(self, serializer):
        serializer.instance = services.create_group(self.tenant, by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.update_group(serializer.instance, by=self.request.user,
                                                    **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_group(instance, by=self.request.user)


class ServiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    """Services (what customers know). Admins manage them; responders may also set a status by hand."""

    serializer_class = ServiceSerializer
    filterset_fields = ["status"]
    search_fields = ["name"]
    ordering_fields = ["name", "order", "status"]
    ordering = ["order", "name"]

    @property
    def write_roles(self):
        return ("admin", "responder") if self.action == "set_status" else ("admin",)

    def get_queryset(self):
        return selectors.services(self.tenant)

    def perform_create(self, serializer):
        serializer.instance = services.create_service(self.tenant, by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.update_service(serializer.instance, by=self.request.user,
                                                      **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_service(instance, by=self.request.user)

    @extend_schema(request=StatusBody, responses=ServiceSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        service = self.get_object()  # another tenant's service is a 404 before the body is read
        body = StatusBody(data=request.data)
        body.is_valid(raise_exception=True)
        service = services.set_status(service, body.validated_data["status"], by=request.user)
        return Response(ServiceSerializer(service, context={"request": request}).data)


class _LinkViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                   mixins.DestroyModelMixin, TenantViewSet):
    write_roles = ("admin",)
    ordering = ["id"]  # pages of a list must not shift between requests

    def perform_destroy(self, instance):
        services.unlink(instance, by=self.request.user)


class SourceLinkViewSet(_LinkViewSet):
    """Services linked to alert sources, with optional automation (a status while an incident is open)."""

    serializer_class = SourceLinkSerializer
    queryset = SourceLink.objects.all()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.link_source(data.pop("service"), data.pop("alert_source"),
                                                   by=self.request.user, **data)


class MonitorLinkViewSet(_LinkViewSet):
    """Services linked to uptime monitors (uptime on pages; optional status while down)."""

    serializer_class = MonitorLinkSerializer
    queryset = MonitorLink.objects.all()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.link_monitor(data.pop("service"), data.pop("monitor"),
                                                    by=self.request.user, **data)


class StatusPageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    """Status pages: public, private (members) or audience (a secret link or allowed email domains)."""

    serializer_class = PageSerializer
    write_roles = ("admin",)
    ordering = ["name"]

    def get_queryset(self):
        return selectors.pages(self.tenant).prefetch_related("services")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.create_page(self.tenant, name=data.pop("name"), slug=data.pop("slug", ""),
                                                   services=data.pop("services", []), by=self.request.user, **data)

    def perform_update(self, serializer):
        serializer.instance = services.update_page(serializer.instance, by=self.request.user,
                                                   **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_page(instance, by=self.request.user)

    @extend_schema(request=None, responses=inline_serializer("AccessLink", {"url": serializers.CharField()}))
    @action(detail=True, methods=["post"], url_path="access-link")
    def access_link(self, request, pk=None):
        """A new secret link for an audience page, shown in this answer only (the old one stops working)."""
        page = self.get_object()
        token = services.new_access_link(page, by=request.user)
        return Response({"url": f"{page_url(page)}?access={token}"}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=PageSerializer)
    @action(detail=True, methods=["post"], url_path="check-domain")
    def check_domain(self, request, pk=None):
        """Look the custom domain's TXT record up now; the answer is the page with its verification."""
        page = self.get_object()
        services.check_domain(page, by=request.user)
        return Response(PageSerializer(page, context=self.get_serializer_context()).data)


class StatusIncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                            mixins.DestroyModelMixin, TenantViewSet):
    """Status incidents and scheduled maintenance (kind "maintenance"), with their updates."""

    serializer_class = IncidentSerializer
    filterset_fields = ["kind", "status"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.incidents(self.tenant).prefetch_related("updates")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        affected = [(a["service"], a["impact"]) for a in data.pop("affected", [])]
        by = self.request.user
        if data.get("kind") == StatusIncident.Kind.MAINTENANCE:
            serializer.instance = services.schedule_maintenance(
                self.tenant, title=data["title"], message=data["message"], scheduled_for=data["scheduled_for"],
                scheduled_until=data["scheduled_until"], affected=[s for s, _ in affected], by=by,
                auto_transition=data.get("auto_transition", True), silence_sources=data.get("silence_sources", False))
            return
        serializer.instance = services.create_incident(
            self.tenant, title=data["title"], message=data["message"], status=data.get("status", "investigating"),
            impact=data.get("impact", "minor"), affected=affected, by=by, alert_incident=data.get("alert_incident"),
            restore_on_resolve=data.get("restore_on_resolve", True))

    def perform_destroy(self, instance):
        services.delete_incident(instance, by=self.request.user)

    @extend_schema(request=NewUpdateSerializer, responses={201: UpdateSerializer})
    @action(detail=True, methods=["post"])
    def updates(self, request, pk=None):
        """Post an update (investigating → identified → monitoring → resolved; maintenance: in_progress,
        verifying, completed). A closing status restores the services."""
        incident = self.get_object()
        body = NewUpdateSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        affected = [(a["service"], a["impact"]) for a in data["affected"]] if "affected" in data else None
        update = services.post_update(incident, status=data["status"], message=data["message"], by=request.user,
                                      affected=affected)
        return Response(UpdateSerializer(update).data, status=status.HTTP_201_CREATED)


class SubscriberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.DestroyModelMixin, TenantViewSet):
    """Subscribers of pages: email (double opt-in: a confirmation is sent) or webhook (its signing
    secret is in the creating answer only). Admins see every subscriber; others only their own."""

    serializer_class = SubscriberSerializer

    @property
    def write_roles(self):
        return ("admin",) if self.action == "destroy" else ("admin", "responder")

    def get_queryset(self):
        queryset = selectors.subscribers(self.tenant).prefetch_related("services")
        if not self.request.user.is_admin:
            queryset = queryset.filter(user=self.request.user)
        return queryset

    def perform_create(self, serializer):
        data = serializer.validated_data
        page = data.get("page")
        if page is None:
            raise serializers.ValidationError({"page": ["Choose the page to subscribe to."]})
        if data.get("kind", "email") == Subscriber.Kind.WEBHOOK:
            subscriber, secret = services.subscribe_webhook(page, data.get("url", ""),
                                                            services=data.get("services", []), by=self.request.user)
            subscriber.new_secret = secret
        else:
            subscriber = services.subscribe_email(page, data.get("email", ""), services=data.get("services", []))
        serializer.instance = subscriber

    def perform_destroy(self, instance):
        services.unsubscribe(instance)


class MySubscriptionsSerializer(serializers.Serializer):
    services = TenantRelatedField(queryset=Service.objects.all(), many=True)


class MySubscriptionViewSet(mixins.CreateModelMixin, TenantViewSet):
    """POST the services you follow by email (an empty list stops them). Any role, stakeholders too,
    for themselves only."""

    serializer_class = MySubscriptionsSerializer
    permission_classes = [IsAuthenticated]
    queryset = Subscriber.objects.all()

    @extend_schema(request=MySubscriptionsSerializer, responses=MySubscriptionsSerializer)
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        subscriber = services.subscribe_member(request.user, body.validated_data["services"])
        followed = list(subscriber.services.values_list("pk", flat=True)) if subscriber else []
        return Response({"services": followed}, status=status.HTTP_200_OK)


routes = [
    ("services", ServiceViewSet),
    ("service-groups", ServiceGroupViewSet),
    ("service-source-links", SourceLinkViewSet),
    ("service-monitor-links", MonitorLinkViewSet),
    ("status-pages", StatusPageViewSet),
    ("status-incidents", StatusIncidentViewSet),
    ("status-subscribers", SubscriberViewSet),
    ("my-service-subscriptions", MySubscriptionViewSet),
]

