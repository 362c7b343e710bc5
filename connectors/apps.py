from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"

    def ready(self):
        from . import receivers  # noqa: F401  (subscribes to alerts.events.incident_changed)
