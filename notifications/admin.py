from django.contrib import admin

from .models import ContactMethod, DeliveryAttempt, Notification, NotificationRule


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "address", "verified_at", "opted_out", "tenant")
    list_filter = ("kind",)
    search_fields = ("address", "user__email")


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ("user", "priority", "contact_method", "delay_minutes", "tenant")


class DeliveryAttemptInline(admin.TabularInline):
    """Every provider call for the notification (read-only: the engine writes them)."""

    model = DeliveryAttempt
    fields = ("kind", "started_at", "finished_at", "result", "provider", "provider_id", "error", "lease", "worker")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "incident", "user", "channel", "status", "due_at", "attempts", "tenant")
    list_filter = ("status", "channel", "kind")
    raw_id_fields = ("incident", "user", "contact_method", "bundle")
    inlines = [DeliveryAttemptInline]
