from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        from anymail.signals import inbound

        from alerts.events import incident_changed

        from . import replies, services

        incident_changed.connect(services.on_incident_changed, dispatch_uid="notifications.on_incident_changed")
        inbound.connect(replies.on_inbound_email, dispatch_uid="notifications.email_replies")
