"""Tenant-scoped reads of contact methods, rules and notifications. Non-admins see their own."""


from .models import ContactMethod, Notification, NotificationRule


def _own_unless_admin(queryset, user):
    queryset = queryset.filter(tenant=user.tenant)
    return queryset if user.is_admin else queryset.filter(user=user)


def contact_methods(user):
    return _own_unless_admin(ContactMethod.objects.select_related("user"), user)


def notification_rules(user):
    return _own_unless_admin(NotificationRule.objects.select_related("user", "contact_method"), user)


def notifications(user):
    return _own_unless_admin(Notification.objects.select_related("user", "incident"), user)


def incident_notifications(incident):
    return (Notification.objects.filter(tenant_id=incident.tenant_id, incident=incident)
            .select_related("user", "contact_method", "bundle").prefetch_related("delivery_attempts")
            .order_by("created_at", "id"))


def methods_of(user):
    return ContactMethod.objects.filter(user=user).order_by("kind", "created_at", "id")


def rules_of(user):
    return NotificationRule.objects.filter(user=user).select_related("contact_method").order_by(
        "priority", "delay_minutes", "id")
