"""Demo data for the embedded run: a weekly "Primary on-call" rotation with a night layer and an
override, and a static "Holiday cover" schedule, so the schedule pages and "on call now" have content."""

from datetime import datetime, time, timedelta

from accounts import services as account_services
from accounts.models import Role, User
from ilert import clock
from ilert.errors import DomainError

from . import services
from .resolution import utc_to_wall, wall_to_utc

DEMO_PEOPLE = [("alex.oncall@example.com", "Alex Oncall"), ("blair.oncall@example.com", "Blair Oncall")]


def _person(tenant, admin, email, name):
    existing = User.objects.filter(email=email, tenant=tenant).first()
    if existing is not None:
        return existing
    try:
        return account_services.invite_user(tenant, email=email, name=name, role=Role.RESPONDER, invited_by=admin)
    except DomainError:  # the address is taken in another organisation: do without
        return None


def seed(tenant, admin):
    people = [admin] + [p for p in (_person(tenant, admin, email, name) for email, name in DEMO_PEOPLE) if p]
    zone_name = tenant.timezone or "UTC"
    primary = services.create_schedule(tenant, name="Primary on-call", timezone=zone_name,
                                       description="Weekly rotation, handoff Monday 09:00.")
    zone = primary.zone
    today = utc_to_wall(clock.now(), zone).date()
    monday = today - timedelta(days=today.weekday())
    services.create_layer(primary, name="Weekly", users=people, length_count=1, length_unit="weeks",
                          rotation_start=datetime.combine(monday - timedelta(days=7), time(9, 0)))
    if len(people) > 1:
        services.create_layer(primary, name="Nights", users=people[1:], length_count=1, length_unit="days",
                              rotation_start=datetime.combine(monday, time(9, 0)),
                              restrictions=[{"type": "time_of_day", "start": "22:00", "end": "07:00"}])
        tomorrow = datetime.combine(today + timedelta(days=1), time(12, 0))
        services.create_override(primary, user=people[-1], start=wall_to_utc(tomorrow, zone),
                                 end=wall_to_utc(tomorrow + timedelta(hours=6), zone), by=admin)
    holidays = services.create_schedule(tenant, name="Holiday cover", timezone=zone_name, kind="static",
                                        description="Explicit shifts over the holidays.")
    start = datetime.combine(today + timedelta(days=3), time(8, 0))
    for index, person in enumerate(people):
        day = start + timedelta(days=index)
        services.create_shift(holidays, user=person, start=wall_to_utc(day, zone),
                              end=wall_to_utc(day + timedelta(hours=12), zone))
