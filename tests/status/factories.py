from status import services
from status.models import (
    MonitorLink,
    Service,
    ServiceGroup,
    SourceLink,
    StatusIncident,
    StatusPage,
    Subscriber,
)
from tests.alerts.factories import make_source
from tests.factories import register


def make_service(tenant, **fields):
    fields.setdefault("name", f"Service {Service.objects.count() + 1}")
    return services.create_service(tenant, **fields)


def make_group(tenant, **fields):
    fields.setdefault("name", f"Group {ServiceGroup.objects.count() + 1}")
    return services.create_group(tenant, **fields)


def make_page(tenant, *, services_=None, **fields):
    n = StatusPage.objects.count() + 1
    fields.setdefault("name", f"Page {n}")
    fields.setdefault("slug", f"{tenant.slug}-page-{n}")
    fields.setdefault("published", True)
    if services_ is None:
        services_ = [make_service(tenant)]
    return services.create_page(tenant, services=services_, **fields)


def make_status_incident(tenant, *, affected=None, **fields):
    fields.setdefault("title", "Checkout is slow")
    fields.setdefault("message", "We are investigating.")
    if affected is None:
        affected = [(make_service(tenant), "partial_outage")]
    return services.create_incident(tenant, affected=affected, **fields)


def make_subscriber(tenant, *, page=None, email=None, confirmed=True):
    page = page or make_page(tenant)
    subscriber = Subscriber.objects.create(
        tenant=tenant, page=page, email=email or f"sub{Subscriber.objects.count() + 1}@example.org")
    if confirmed:
        services.confirm_subscriber(subscriber)
    return subscriber


def make_source_link(tenant):
    return services.link_source(make_service(tenant), make_source(tenant), status_while_open="major_outage")


def make_monitor_link(tenant):
    from tests.uptime.factories import make_monitor

    return services.link_monitor(make_service(tenant), make_monitor(tenant), status_while_down="major_outage")


register(Service, make_service)
register(ServiceGroup, make_group)
register(StatusPage, make_page)
register(StatusIncident, make_status_incident)
register(Subscriber, make_subscriber)
register(SourceLink, make_source_link)
register(MonitorLink, make_monitor_link)
