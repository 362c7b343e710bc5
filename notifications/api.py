"""REST resources: /api/v1/contact-methods (+ /verify, /send-verification), /notification-rules,
/notifications (read-only). Non-admins see and change their own; admins everyone's in the tenant."""

import django_filters
from django.conf import settings
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from ilert.api import TenantViewSet
from ilert.errors import DomainError
from ilert.tenancy import TenantRelatedField, tenant_of

from . import channels, providers, selectors, services
from .models import ContactMethod, DeliveryAttempt, Notification, NotificationRule, ProviderSettings


class ContactMethodSerializer(serializers.ModelSerializer):
    user = TenantRelatedField(queryset=User.objects.all(), required=False)
    address = serializers.CharField(max_length=1024, help_text="Email, E.164 phone number, or FCM registration "
                                                                "token (write-only for push: shown masked).")
    verified = serializers.BooleanField(source="is_verified", read_only=True)
    usable = serializers.BooleanField(read_only=True)

    class Meta:
        model = ContactMethod
        fields = [
            "id", "user", "kind", "address", "platform", "device_name", "verified", "verified_at", "usable",
            "opted_out", "disabled_reason", "throttle_max", "throttle_minutes", "bundle_seconds", "created_at",
        ]
        read_only_fields = ["id", "verified_at", "opted_out", "disabled_reason", "created_at"]
        validators = []  # uniqueness is the service's (409), with `user` defaulting to the caller

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["address"] = channels.get(instance.kind).listed_address(instance.address)
        return data


class ContactMethodUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactMethod
        fields = ["device_name", "throttle_max", "throttle_minutes", "bundle_seconds"]


class CodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=12)


class ContactMethodViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                           mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    serializer_class = ContactMethodSerializer
    queryset = ContactMethod.objects.all()
    filterset_fields = ["user", "kind"]
    ordering_fields = ["created_at", "kind"]

    def get_queryset(self):
        return selectors.contact_methods(self.request.user).order_by("user_id", "kind", "id")

    def perform_create(self, serializer):
        data = serializer.validated_data
        method = services.add_contact_method(
            data.get("user") or self.request.user, kind=data["kind"], address=data["address"],
            platform=data.get("platform", ""), device_name=data.get("device_name", ""), by=self.request.user,
        )
        limits = {k: data[k] for k in ("throttle_max", "throttle_minutes", "bundle_seconds") if k in data}
        if limits:
            services.update_contact_method(method, by=self.request.user, **limits)
        serializer.instance = method

    @extend_schema(request=ContactMethodUpdateSerializer, responses=ContactMethodSerializer)
    def update(self, request, *args, **kwargs):
        method = self.get_object()
        update = ContactMethodUpdateSerializer(method, data=request.data, partial=kwargs.get("partial", False))
        update.is_valid(raise_exception=True)
        services.update_contact_method(method, by=request.user, **update.validated_data)
        return Response(ContactMethodSerializer(method, context=self.get_serializer_context()).data)

    @extend_schema(request=ContactMethodUpdateSerializer, responses=ContactMethodSerializer)
    def partial_update(self, request, *args, **kwargs):  # only to document PATCH's body (it is update's)
        return super().partial_update(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.delete_contact_method(instance, by=self.request.user)

    @extend_schema(request=CodeSerializer, responses=ContactMethodSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """Confirm a phone number with the code it received."""
        method = self.get_object()
        body = CodeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        method = services.confirm_code(method, body.validated_data["code"], by=request.user)
        return Response(ContactMethodSerializer(method, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"], url_path="send-verification")
    def send_verification(self, request, pk=None):
        """Send a new code (phones) or confirmation link (email)."""
        services.send_verification(self.get_object(), by=request.user)
        return Response({"code": "sent", "message": "Verification sent."}, status=status.HTTP_202_ACCEPTED)


class NotificationRuleSerializer(serializers.ModelSerializer):
    user = TenantRelatedField(queryset=User.objects.all(), required=False)
    contact_method = TenantRelatedField(queryset=ContactMethod.objects.all())

    class Meta:
        model = NotificationRule
        fields = ["id", "user", "priority", "contact_method", "delay_minutes", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []


class NotificationRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                              mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    serializer_class = NotificationRuleSerializer
    queryset = NotificationRule.objects.all()
    filterset_fields = ["user", "priority", "contact_method"]
    ordering_fields = ["priority", "delay_minutes", "created_at"]

    def get_queryset(self):
        return selectors.notification_rules(self.request.user).order_by("user_id", "priority", "delay_minutes", "id")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.add_rule(
            data.get("user") or self.request.user, priority=data["priority"],
            contact_method=data["contact_method"], delay_minutes=data.get("delay_minutes", 0), by=self.request.user,
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if "user" in data and data.pop("user").pk != serializer.instance.user_id:
            raise DomainError("A step cannot move to another user.", field="user")
        serializer.instance = services.update_rule(serializer.instance, by=self.request.user, **data)

    def perform_destroy(self, instance):
        services.delete_rule(instance, by=self.request.user)


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    """One provider call: a send or a lookup ("did the provider take it?"), and its answer."""

    class Meta:
        model = DeliveryAttempt
        fields = ["kind", "started_at", "finished_at", "result", "provider", "provider_id", "error"]
        read_only_fields = fields


class NotificationSerializer(serializers.ModelSerializer):
    delivery_attempts = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id", "kind", "incident", "user", "contact_method", "channel", "address", "step", "round_tag", "reason",
            "status", "due_at", "sent_at", "delivered_at", "attempts", "provider", "provider_id", "error", "bundle",
            "reply_code", "created_at", "delivery_attempts",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["address"] = channels.get(instance.channel).listed_address(instance.address)
        return data


class NotificationFilter(django_filters.FilterSet):
    class Meta:
        model = Notification
        fields = ["incident", "user", "status", "channel", "kind"]


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    serializer_class = NotificationSerializer
    queryset = Notification.objects.all()
    filterset_class = NotificationFilter
    ordering_fields = ["created_at", "due_at", "status"]

    def get_queryset(self):
        return (selectors.notifications(self.request.user).prefetch_related("delivery_attempts")
                .order_by("-created_at", "-id"))


class ProviderSettingsSerializer(serializers.Serializer):
    """Write-only secrets: the auth token and the service-account JSON are never returned."""

    twilio_account_sid = serializers.CharField(required=False, allow_blank=True, max_length=64)
    twilio_auth_token = serializers.CharField(required=False, allow_blank=True, write_only=True, max_length=128)
    twilio_from_number = serializers.CharField(required=False, allow_blank=True, max_length=32)
    firebase_credentials = serializers.CharField(required=False, allow_blank=True, write_only=True,
                                                 max_length=20000)
    clear_twilio = serializers.BooleanField(required=False, default=False, write_only=True)
    clear_firebase = serializers.BooleanField(required=False, default=False, write_only=True)


def _provider_state(tenant):
    own = ProviderSettings.objects.filter(tenant=tenant).first()
    twilio = providers.twilio_for(tenant.pk)
    return {
        "twilio": {
            "in_use": twilio.owner if twilio else "dev_outbox",
            "account_sid": own.twilio_account_sid if own else "",
            "from_number": own.twilio_from_number if own else "",
            "auth_token_stored": bool(own and own.twilio_auth_token_encrypted),
        },
        "firebase": {
            "in_use": "tenant" if own and own.firebase_configured else (
                "platform" if settings.FIREBASE_CREDENTIALS_FILE else "dev_outbox"),
            "project_id": own.firebase_project_id if own else "",
        },
        "caller_ids": providers.caller_ids(tenant.pk),
    }


class ProviderSettingsView(APIView):
    """GET /api/v1/notification-providers: which providers page this organisation (no secrets).
    PUT/PATCH (admins): the organisation's own Twilio / Firebase credentials, write-only."""

    write_roles = ("admin",)

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(_provider_state(tenant_of(request)))

    @extend_schema(request=ProviderSettingsSerializer, responses={200: dict})
    def put(self, request):
        body = ProviderSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        services.save_provider_settings(
            tenant_of(request), by=request.user,
            twilio_account_sid=data.get("twilio_account_sid"), twilio_auth_token=data.get("twilio_auth_token") or None,
            twilio_from_number=data.get("twilio_from_number"),
            firebase_credentials=data.get("firebase_credentials") or None,
            clear_twilio=data["clear_twilio"], clear_firebase=data["clear_firebase"],
        )
        return Response(_provider_state(tenant_of(request)))

    patch = put


api_urlpatterns = [path("notification-providers", ProviderSettingsView.as_view(), name="notification-providers")]

routes = [
    ("contact-methods", ContactMethodViewSet),
    ("notification-rules", NotificationRuleViewSet),
    ("notifications", NotificationViewSet),
]
