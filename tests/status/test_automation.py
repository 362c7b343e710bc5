"""Services follow linked alert sources and monitors (issue 17): an open incident holds the service
at the link's status, resolving restores it, and the history says who or what changed it."""

from datetime import timedelta

import pytest
import time_machine

from alerts import services as alert_services
from ilert import clock
from status import engine, services
from status.models import ServiceStatusChange
from tests.alerts.factories import alert, make_source

from .factories import make_page, make_service

pytestmark = pytest.mark.django_db


def _history(service):
    return list(ServiceStatusChange.objects.filter(service=service).order_by("at", "id")
                .values_list("old_status", "new_status", "cause"))


def test_an_alert_incident_on_a_linked_source_changes_the_service_and_resolving_restores_it(tenant):
    service = make_service(tenant, name="Checkout")
    source = make_source(tenant)
    services.link_source(service, source, status_while_open="major_outage")

    incident = alert(source, "Checkout 500s").incident
    service.refresh_from_db()
    assert service.status == "major_outage"

    alert_services.resolve(incident, via="api")
    service.refresh_from_db()
    assert service.status == "operational"
    history = _history(service)
    assert history[-2][:2] == ("operational", "major_outage") and f"#{incident.number} opened" in history[-2][2]
    assert history[-1][:2] == ("major_outage", "operational") and "resolved" in history[-1][2]


def test_two_overlapping_incidents_restore_only_when_the_last_one_resolves(tenant):
    service = make_service(tenant)
    first, second = make_source(tenant), make_source(tenant)
    services.link_source(service, first, status_while_open="partial_outage")
    services.link_source(service, second, status_while_open="major_outage")
    a = alert(first, "a").incident
    b = alert(second, "b").incident
    service.refresh_from_db()
    assert service.status == "major_outage"
    alert_services.resolve(b)
    service.refresh_from_db()
    assert service.status == "partial_outage"
    alert_services.resolve(a)
    service.refresh_from_db()
    assert service.status == "operational"


def test_without_restore_the_status_stays_after_resolve(tenant):
    service = make_service(tenant)
    source = make_source(tenant)
    services.link_source(service, source, status_while_open="degraded_performance", restore_on_resolve=False)
    alert_services.resolve(alert(source, "x").incident)
    service.refresh_from_db()
    assert service.status == service.base_status == "degraded_performance"


def test_a_link_without_automation_changes_nothing(tenant):
    service = make_service(tenant)
    source = make_source(tenant)
    services.link_source(service, source)
    alert(source, "x")
    service.refresh_from_db()
    assert service.status == "operational"


def test_a_down_monitor_holds_its_linked_service(tenant):
    from tests.uptime.factories import make_monitor
    from uptime import services as uptime_services

    monitor = make_monitor(tenant)
    service = make_service(tenant)
    services.link_monitor(service, monitor, status_while_down="major_outage")
    uptime_services._send(monitor, "ALERT", "down")  # what the engine sends when the monitor goes down
    service.refresh_from_db()
    assert service.status == "major_outage"
    uptime_services._send(monitor, "RESOLVE")
    service.refresh_from_db()
    assert service.status == "operational"


def test_a_person_setting_a_status_is_on_the_history_with_their_name(tenant, admin):
    service = make_service(tenant)
    services.set_status(service, "degraded_performance", by=admin)
    change = ServiceStatusChange.objects.filter(service=service).last()
    assert (change.new_status, change.actor) == ("degraded_performance", admin)


def test_a_stakeholder_cannot_set_a_status(tenant, stakeholder):
    from ilert.errors import Forbidden

    service = make_service(tenant)
    with pytest.raises(Forbidden):
        services.set_status(service, "major_outage", by=stakeholder)
    service.refresh_from_db()
    assert service.status == "operational"


def test_resolving_a_status_incident_restores_its_services(tenant, responder):
    service = make_service(tenant)
    incident = services.create_incident(tenant, title="API errors", message="Investigating",
                                        affected=[(service, "partial_outage")], by=responder)
    service.refresh_from_db()
    assert service.status == "partial_outage"
    services.post_update(incident, status="identified", message="Found it", by=responder)
    services.post_update(incident, status="resolved", message="Fixed", by=responder)
    service.refresh_from_db()
    assert service.status == "operational"
    assert incident.status == "resolved" and incident.resolved_at is not None


def test_one_click_from_an_alert_incident_uses_the_template(tenant, responder):
    service = make_service(tenant, name="Checkout")
    source = make_source(tenant)
    services.link_source(service, source)
    incident = alert(source, "db down").incident
    status_incident = services.from_alert_incident(incident, by=responder)
    update = status_incident.updates.get()
    assert update.message == "We are investigating problems with Checkout."
    assert status_incident.alert_incident == incident
    service.refresh_from_db()
    assert service.status == "partial_outage"


def test_maintenance_starts_and_ends_on_its_own(tenant, responder):
    service = make_service(tenant)
    source = make_source(tenant)
    services.link_source(service, source)
    start = clock.now() + timedelta(days=2)
    m = services.schedule_maintenance(tenant, title="DB upgrade", message="Planned", scheduled_for=start,
                                      scheduled_until=start + timedelta(hours=2), affected=[service], by=responder,
                                      silence_sources=True)
    assert engine.tick() == 0  # nothing due yet
    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        engine.tick()
        m.refresh_from_db()
        service.refresh_from_db()
        assert m.status == "in_progress" and service.status == "under_maintenance"
        assert alert_services.in_maintenance(source, clock.now())  # planned work pages nobody
    with time_machine.travel(start + timedelta(hours=2, seconds=1), tick=False):
        engine.tick()
        m.refresh_from_db()
        service.refresh_from_db()
        assert m.status == "completed" and service.status == "operational" and m.due_at is None
    assert list(m.updates.order_by("at").values_list("status", flat=True)) == ["scheduled", "in_progress",
                                                                              "completed"]


def test_the_daily_bars_show_the_worst_status_of_each_local_day_and_monitor_uptime(tenant):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from status import history
    from status.models import Service
    from tests.uptime.factories import make_monitor
    from uptime.models import CheckRollup

    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 30, 12, 0, tzinfo=berlin)  # the day after the spring DST change
    service = make_service(tenant)
    Service.objects.filter(pk=service.pk).update(created_at=now - timedelta(days=200))
    service.refresh_from_db()
    page = make_page(tenant, services_=[service], time_zone="Europe/Berlin")
    # 23:30 local on the 28th (22:30 UTC): an hour of major outage spanning local midnight
    start = datetime(2026, 3, 28, 23, 30, tzinfo=berlin)
    for at, old, new in ((start, "operational", "major_outage"), (start + timedelta(hours=1), "major_outage",
                                                                   "degraded_performance"),
                         (start + timedelta(hours=5), "degraded_performance", "operational")):
        ServiceStatusChange.objects.create(tenant=tenant, service=service, at=at, old_status=old, new_status=new)
    monitor = make_monitor(tenant)
    services.link_monitor(service, monitor)
    CheckRollup.objects.create(tenant=tenant, monitor=monitor, period="day",
                               start=datetime(2026, 3, 27, tzinfo=ZoneInfo("UTC")), up_seconds=86400 - 864,
                               down_seconds=864, checks=1, up=1, down=0)
    bars = history.bars(page, [service], now=now)[service.pk]
    by_day = {day.isoformat(): (status, uptime) for day, status, uptime in bars}
    assert len(bars) == 90
    assert by_day["2026-03-27"] == ("operational", 99.0)
    assert by_day["2026-03-28"][0] == "major_outage"
    assert by_day["2026-03-29"][0] == "major_outage"  # the outage went on past local midnight
    assert by_day["2026-03-30"][0] == "operational"
    assert by_day["2026-03-26"][0] == "operational" and history.uptime_90(bars) == 99.0
