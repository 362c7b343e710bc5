from django.contrib import admin

from .models import CheckResult, CheckRollup, UptimeMonitor


@admin.register(UptimeMonitor)
class UptimeMonitorAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "check_type", "target", "status", "paused", "next_check_at", "last_checked_at"]
    list_filter = ["check_type", "status", "paused"]
    search_fields = ["name", "target"]
    raw_id_fields = ["tenant", "alert_source", "incident"]


@admin.register(CheckResult)
class CheckResultAdmin(admin.ModelAdmin):
    list_display = ["monitor", "checked_at", "outcome", "response_ms", "status_code", "lateness_ms"]
    list_filter = ["outcome"]
    raw_id_fields = ["tenant", "monitor"]


@admin.register(CheckRollup)
class CheckRollupAdmin(admin.ModelAdmin):
    list_display = ["monitor", "period", "start", "checks", "up", "down"]
    list_filter = ["period"]
    raw_id_fields = ["tenant", "monitor"]
