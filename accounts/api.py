"""REST resources: /api/v1/users, /teams, /api-keys, /me."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from ilert.api import TenantViewSet
from ilert.tenancy import TenantRelatedField

from . import selectors, services
from .models import ApiKey, Role, Team, User


class UserSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices, default=Role.RESPONDER)
    timezone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    invitation_pending = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "name", "role", "timezone", "is_active", "invitation_pending", "date_joined"]
        read_only_fields = ["id", "is_active", "date_joined"]


class TeamSerializer(serializers.ModelSerializer):
    members = TenantRelatedField(many=True, queryset=User.objects.all(), required=False)

    class Meta:
        model = Team
        fields = ["id", "name", "description", "members", "created_at"]
        read_only_fields = ["id", "created_at"]


class ApiKeySerializer(serializers.ModelSerializer):
    user = serializers.PrimaryKeyRelatedField(read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "user", "active", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "user", "active", "created_at", "last_used_at", "revoked_at"]


class ApiKeyCreatedSerializer(ApiKeySerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once, at creation. Store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]


class UserViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    """Users of the organisation. Admins invite (POST), edit and deactivate (DELETE) users."""

    serializer_class = UserSerializer
    write_roles = ("admin",)
    filterset_fields = ["role", "is_active"]
    search_fields = ["email", "name"]
    ordering_fields = ["name", "email", "date_joined", "role"]
    ordering = ["name", "email"]

    def get_queryset(self):
        return selectors.users(self.tenant)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.invite_user(
            self.tenant, email=data["email"], name=data.get("name", ""),
            role=data.get("role", Role.RESPONDER), invited_by=self.request.user,
        )

    def perform_update(self, serializer):
        services.update_user(serializer.instance, by=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.deactivate_user(instance, by=self.request.user)


class MeView(generics.GenericAPIView):
    """The authenticated user: read, and change their own name and time zone. Any role, stakeholders
    too: these are the reader's own preferences, not the organisation's state."""

    serializer_class = UserSerializer
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response(UserSerializer(request.user).data)

    def patch(self, request):
        serializer = UserSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = {k: v for k, v in serializer.validated_data.items() if k in ("name", "timezone")}
        services.update_user(request.user, by=request.user, **fields)
        return Response(UserSerializer(request.user).data)


class TeamViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    serializer_class = TeamSerializer
    write_roles = ("admin",)
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_queryset(self):
        return selectors.teams(self.tenant)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_team(
            self.tenant, name=data["name"], description=data.get("description", ""), members=data.get("members", [])
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        services.update_team(
            serializer.instance, name=data.get("name"), description=data.get("description"), members=data.get("members")
        )

    def perform_destroy(self, instance):
        services.delete_team(instance)


class ApiKeyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.DestroyModelMixin, TenantViewSet,
):
    """API keys. The secret is in the response to POST only. DELETE revokes the key."""

    serializer_class = ApiKeySerializer
    filterset_fields = ["user"]
    ordering_fields = ["created_at", "last_used_at", "name"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.api_keys(self.request.user)

    @extend_schema(responses={201: ApiKeyCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = services.create_api_key(request.user, name=serializer.validated_data["name"])
        key.secret = secret
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        key = services.revoke_api_key(self.get_object())
        return Response(ApiKeySerializer(key).data)

    def perform_destroy(self, instance):
        services.revoke_api_key(instance)


routes = [
    ("users", UserViewSet),
    ("teams", TeamViewSet),
    ("api-keys", ApiKeyViewSet),
]
api_urlpatterns = [path("me", MeView.as_view(), name="me")]
