from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "escalation"

    def ready(self):
        from . import receivers  # noqa: F401  (connects the incident_changed receiver)
