from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self):
        from alerts.events import incident_changed

        from . import receivers

        incident_changed.connect(receivers.mark_dirty, dispatch_uid="reports.mark_dirty")
