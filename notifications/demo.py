"""Demo data for the embedded run: the demo admin is paged by push at once and SMS a minute later
for HIGH incidents, by email for LOW ones. Nothing is configured, so everything lands in the dev
outbox, where the demo user answers (type "1a", tap Accept) and sees the incident accepted."""

from ilert import clock

from .models import ContactMethod, NotificationRule


def seed(tenant, admin):
    now = clock.now()

    def method(kind, address, **fields):
        return ContactMethod.objects.create(tenant=tenant, user=admin, kind=kind, address=address, verified_at=now,
                                            **fields)

    push = method("push", "demo-device-registration-token", platform="ios", device_name="Demo phone")
    sms = method("sms", "+4915123456789")
    email = method("email", admin.email)
    for priority, contact_method, delay in (("HIGH", push, 0), ("HIGH", sms, 1), ("LOW", email, 0)):
        NotificationRule.objects.create(tenant=tenant, user=admin, priority=priority, contact_method=contact_method,
                                        delay_minutes=delay)
