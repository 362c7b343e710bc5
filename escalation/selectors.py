
from .models import EscalationLevel, EscalationPolicy


def policies(tenant):
    return EscalationPolicy.objects.filter(tenant=tenant).prefetch_related("levels", "alert_sources")


def levels(tenant):
    return EscalationLevel.objects.filter(tenant=tenant).select_related("policy")
