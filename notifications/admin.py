from django.contrib import admin

from .models import ContactMethod, Notification, NotificationRule


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "address", "verified_at", "opted_out", "tenant")
    list_filter = ("kind",)
    search_fields = ("address", "user__email")


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ("user", "priority", "contact_method", "delay_minutes", "tenant")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "incident", "user", "channel", "status", "due_at", "attempts", "tenant")
    list_filter = ("status", "channel", "kind")
    raw_id_fields = ("incident", "user", "contact_method", "bundle")
