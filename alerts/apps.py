from anymail.signals import inbound
from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self):
        from .integrations import email  # here, not on top: the app registry must be ready (email imports models)

        # The one alerts receiver of anymail's inbound signal: it handles only mail addressed to an
        # email alert source and leaves every other mail to other receivers (see integrations/email.py).
        inbound.connect(email.on_inbound, dispatch_uid="alerts.integrations.email.on_inbound")
