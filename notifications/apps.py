from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        # Here, not at the top: these modules import models, which Django allows only once the app
        # registry is ready (ready() is that moment).
        from anymail.signals import inbound

        from alerts import inbound_numbers
        from alerts.events import incident_changed

        from . import providers, replies, services, twilio_ownership

        incident_changed.connect(services.on_incident_changed, dispatch_uid="notifications.on_incident_changed")
        inbound_numbers.register(twilio_ownership.verify_inbound_number)
        inbound_numbers.register_account_lookup(providers.inbound_sms_account)
        inbound.connect(replies.on_inbound_email, dispatch_uid="notifications.email_replies")
