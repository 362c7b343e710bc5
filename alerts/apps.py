from anymail.signals import inbound
from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self):
        from .integrations import email  # here, not on top: the app registry must be ready (email imports models)

        # The one alerts receiver of anymail's inbound signal: it handles only mail addressed to an
        # email alert source and leaves every other mail to other receivers (see integrations/email.py).
        inbound.connect(email.on_inbound, dispatch_uid="alerts.integrations.email.on_inbound")

        from django.db.models.signals import post_delete, post_save

        from . import selectors
        from .models import AlertSource

        def forget(sender, instance, **kwargs):
            selectors.forget_cached_source(instance)

        # The cache of sources by key (selectors.cached_source_for_key) forgets what this process changes.
        post_save.connect(forget, sender=AlertSource, weak=False, dispatch_uid="alerts.forget_cached_source")
        post_delete.connect(forget, sender=AlertSource, weak=False, dispatch_uid="alerts.forget_cached_source_deleted")
