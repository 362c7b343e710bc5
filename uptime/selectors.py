"""Tenant-scoped reads of uptime monitors and their results."""


from . import stats
from .models import CheckResult, UptimeMonitor


def monitors(tenant):
    return UptimeMonitor.objects.filter(tenant=tenant).select_related("alert_source__escalation_policy", "incident")


def results(tenant, monitor=None):
    queryset = CheckResult.objects.filter(tenant=tenant)
    if monitor is not None:
        queryset = queryset.filter(monitor=monitor)
    return queryset


def incidents(monitor):
    return stats.incidents(monitor).select_related("alert_source", "assigned_to")


def status_counts(tenant):
    counts = {"up": 0, "down": 0, "paused": 0, "other": 0}
    for status, paused in UptimeMonitor.objects.filter(tenant=tenant).values_list("status", "paused"):
        key = "paused" if paused else status if status in ("up", "down") else "other"
        counts[key] += 1
    return counts
