"""Tenant-scoped reads. Anything outside the tenant is 404."""

from ilert.tenancy import get_for_tenant

from .models import ApiKey, Team, User


def users(tenant, *, include_inactive=True):
    queryset = User.objects.filter(tenant=tenant)
    return queryset if include_inactive else queryset.filter(is_active=True)


def get_user(tenant, pk):
    return get_for_tenant(User.objects.all(), tenant, pk=pk)


def teams(tenant):
    return Team.objects.filter(tenant=tenant).prefetch_related("members")


def api_keys(user):
    """Admins see every key of the tenant; others their own."""
    queryset = ApiKey.objects.filter(tenant=user.tenant).select_related("user")
    return queryset if user.is_admin else queryset.filter(user=user)
