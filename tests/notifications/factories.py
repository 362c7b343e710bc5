from alerts.models import Incident
from ilert import clock
from ilert.models import DevMessage
from notifications.models import ContactMethod, Notification, NotificationRule, ProfileNotice
from tests.alerts.factories import make_incident
from tests.factories import UserFactory, register

_numbers = iter(range(10_000_000))


def phone():
    return f"+4915{next(_numbers):08d}"


def make_method(user, kind="sms", address=None, *, verified=True, **fields):
    if address is None:
        address = {"sms": phone, "voice": phone, "email": lambda: f"pager-{next(_numbers)}@example.com",
                   "push": lambda: f"fcm-token-{next(_numbers)}-" + "x" * 100}[kind]()
    if kind == "push":
        fields.setdefault("platform", "ios")
    return ContactMethod.objects.create(
        tenant_id=user.tenant_id, user=user, kind=kind, address=address,
        verified_at=clock.now() if verified else None, **fields)


def make_rule(user, method, priority="HIGH", delay=0):
    return NotificationRule.objects.create(tenant_id=user.tenant_id, user=user, contact_method=method,
                                           priority=priority, delay_minutes=delay)


def make_notification(tenant):
    from notifications import services

    user = UserFactory(tenant=tenant)
    incident = make_incident(tenant)
    return services.notify(incident, user, round_tag="r1")[0]


def make_dev_message(tenant):
    return DevMessage.objects.create(tenant=tenant, channel="sms", to="+4915100000000", body="hello")


def open_incident(tenant, **fields):
    incident = make_incident(tenant, **fields)
    assert incident.status == Incident.Status.PENDING
    return incident


register(ContactMethod, lambda tenant: make_method(UserFactory(tenant=tenant)))
register(NotificationRule, lambda tenant: (lambda u: make_rule(u, make_method(u)))(UserFactory(tenant=tenant)))
register(Notification, make_notification)
register(DevMessage, make_dev_message)


def make_notice(user):
    return ProfileNotice.objects.create(tenant_id=user.tenant_id, user=user, text="Push to a browser stopped.")


register(ProfileNotice, lambda tenant: make_notice(UserFactory(tenant=tenant)))
