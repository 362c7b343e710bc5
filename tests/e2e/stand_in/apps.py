import os

from django.apps import AppConfig


def page_on_create(sender, incident, kind, **kwargs):
    """TEST-ONLY stand-in for the escalation engine (see the package docstring)."""
    if kind != "created" or incident.in_maintenance:
        return
    from accounts.models import User
    from notifications import services

    user = User.objects.filter(email=os.environ.get("STAND_IN_PAGE_USER", ""), tenant_id=incident.tenant_id).first()
    if user is not None:
        services.notify(incident, user, round_tag=f"r{incident.escalation_round}", reason="stand-in engine")


class StandInConfig(AppConfig):
    name = "tests.e2e.stand_in"
    label = "e2e_stand_in"

    def ready(self):
        from alerts.events import incident_changed

        incident_changed.connect(page_on_create, dispatch_uid="e2e.stand_in.page_on_create")
