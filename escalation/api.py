"""REST: /api/v1/escalation-policies, with their levels nested (a PUT/PATCH with `levels`
replaces them, in the order given)."""

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import mixins, serializers

from accounts.models import Team, User
from ilert.api import TenantViewSet
from ilert.tenancy import TenantRelatedField
from schedules.models import Schedule

from . import selectors, services
from .models import MAX_REPEATS, MAX_TIMEOUT_MINUTES, EscalationLevel, EscalationPolicy, NotifyMode


class LevelSerializer(serializers.ModelSerializer):
    # Inactive users are accepted (a policy read back and saved again must round-trip); the engine skips them.
    users = TenantRelatedField(many=True, queryset=User.objects.all(), required=False)
    teams = TenantRelatedField(many=True, queryset=Team.objects.all(), required=False)
    schedules = TenantRelatedField(many=True, queryset=Schedule.objects.all(), required=False)
    timeout_minutes = serializers.IntegerField(
        default=30, validators=[MinValueValidator(0), MaxValueValidator(MAX_TIMEOUT_MINUTES)]
    )
    notify_mode = serializers.ChoiceField(choices=NotifyMode.choices, default=NotifyMode.ALL)

    class Meta:
        model = EscalationLevel
        fields = ["id", "position", "timeout_minutes", "notify_mode", "users", "teams", "schedules"]
        read_only_fields = ["id", "position"]


class PolicySerializer(serializers.ModelSerializer):
    levels = LevelSerializer(many=True, required=False)
    repeat_count = serializers.IntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(MAX_REPEATS)]
    )
    alert_sources = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = EscalationPolicy
        fields = ["id", "name", "description", "repeat_count", "routing_key", "levels", "alert_sources", "created_at"]
        read_only_fields = ["id", "alert_sources", "created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["levels"] = LevelSerializer(instance.levels.order_by("position"), many=True, context=self.context).data
        return data


class PolicyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet,
):
    """Escalation policies: ordered levels of users, teams and schedules, each with a timeout."""

    serializer_class = PolicySerializer
    write_roles = ("admin",)
    search_fields = ["name", "routing_key"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]
    filterset_fields = ["routing_key"]

    def get_queryset(self):
        return selectors.policies(self.tenant)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.create_policy(self.tenant, **data)

    def perform_update(self, serializer):
        services.update_policy(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_policy(instance)


routes = [("escalation-policies", PolicyViewSet)]
