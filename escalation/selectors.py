from ilert.tenancy import get_for_tenant

from .models import EscalationLevel, EscalationPolicy


def policies(tenant):
    return EscalationPolicy.objects.filter(tenant=tenant).prefetch_related("levels", "alert_sources")


def get_policy(tenant, pk):
    return get_for_tenant(policies(tenant), tenant, pk=pk)


def levels(tenant):
    return EscalationLevel.objects.filter(tenant=tenant).select_related("policy")
