"""Demo data: a policy that pages the demo admin, then repeats once."""

from . import services


def seed(tenant, admin):
    return services.create_policy(
        tenant, name="Default", description="Pages the on-call admin.", repeat_count=1,
        levels=[{"users": [admin], "timeout_minutes": 5}],
    )
