"""Demo data: a policy that pages the demo admin (then repeats once), used by a demo alert source,
so an event sent to it shows the whole loop: incident, page, reply, accepted."""

from alerts import services as alert_services

from . import services


def seed(tenant, admin):
    policy = services.create_policy(
        tenant, name="Default", description="Pages the on-call admin.", repeat_count=1,
        levels=[{"users": [admin], "timeout_minutes": 5}],
    )
    alert_services.create_alert_source(tenant, name="Demo monitoring", escalation_policy=policy)
    return policy
