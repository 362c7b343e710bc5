"""Reads: a tenant's objects (404 across tenants), and everything one page shows.

What a page shows is decided here once: its services (of its own organisation only), the status
incidents and maintenance that affect them (or that name no service: organisation-wide), nothing
of another organisation whatever the links say.
"""

from django.db.models import Exists, OuterRef, Prefetch, Q

from .models import (
    AffectedService,
    IncidentUpdate,
    Service,
    ServiceGroup,
    StatusIncident,
    StatusPage,
    Subscriber,
)


def services(tenant):
    return Service.objects.filter(tenant=tenant).select_related("group")


def groups(tenant):
    return ServiceGroup.objects.filter(tenant=tenant)


def pages(tenant):
    return StatusPage.objects.filter(tenant=tenant)


def incidents(tenant):
    return StatusIncident.objects.filter(tenant=tenant)


def subscribers(tenant):
    return Subscriber.objects.filter(tenant=tenant)


def page_by_slug(slug):
    return StatusPage.objects.filter(slug=slug).first()


def page_by_domain(host):
    """The published page on this custom domain, verified or not (the middleware answers 404 for a
    domain not yet proved)."""
    return StatusPage.objects.filter(custom_domain=host, published=True).first()


def page_services(page):
    return list(Service.objects.filter(pages=page, tenant_id=page.tenant_id).select_related("group")
                .order_by("group__order", "group__name", "order", "name", "id"))


def page_incidents(page, *, service_ids=None, kind=None, open_only=False, limit=50, since=None):
    """Status incidents shown on the page, newest first, with updates and affected services."""
    if service_ids is None:
        service_ids = [s.pk for s in page_services(page)]
    touches = AffectedService.objects.filter(incident=OuterRef("pk"), service_id__in=service_ids)
    anything = AffectedService.objects.filter(incident=OuterRef("pk"))
    qs = (StatusIncident.objects.filter(tenant_id=page.tenant_id)
          .filter(Q(Exists(touches)) | ~Q(Exists(anything))))
    if kind:
        qs = qs.filter(kind=kind)
    if open_only:
        qs = qs.exclude(status__in=StatusIncident.CLOSED)
    if since is not None:
        qs = qs.filter(Q(created_at__gte=since) | ~Q(status__in=StatusIncident.CLOSED))
    qs = qs.prefetch_related(
        Prefetch("updates", queryset=IncidentUpdate.objects.order_by("-at", "-id")),
        Prefetch("affected", queryset=AffectedService.objects.filter(service_id__in=service_ids)
                 .select_related("service")),
    )
    return list(qs.order_by("-created_at", "-id")[:limit])
