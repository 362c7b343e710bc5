from escalation import services
from escalation.models import EscalationLevel, EscalationPolicy
from tests.factories import UserFactory, register


def make_policy(tenant, levels=None, **fields):
    fields.setdefault("name", f"Policy {EscalationPolicy.objects.count() + 1}")
    if levels is None:
        levels = [{"users": [UserFactory(tenant=tenant)], "timeout_minutes": 10}]
    return services.create_policy(tenant, levels=levels, **fields)


register(EscalationPolicy, make_policy)


def make_level(tenant):
    return make_policy(tenant).levels.get()


register(EscalationLevel, make_level)
