"""Services (the components a status page shows), their groups, and the links that let an alert
source or an uptime monitor hold a service at a status."""

from django.db import transaction

from ilert import clock
from ilert.errors import DomainError

from ..models import SEVERITY, MonitorLink, Service, ServiceGroup, ServiceStatus, ServiceStatusChange, SourceLink
from .checks import may_manage, may_write, same_tenant
from .holds import recompute, touch_pages


def create_group(tenant, *, name, description="", order=0, by=None):
    may_manage(by)
    return ServiceGroup.objects.create(tenant=tenant, name=name, description=description, order=order)


def update_group(group, *, by=None, **fields):
    may_manage(by)
    for name, value in fields.items():
        setattr(group, name, value)
    group.save()
    touch_pages(Service.objects.filter(group=group).values_list("pk", flat=True))
    return group


def move_group(group, *, up, by=None):
    """One place up or down among the tenant's groups: renumber them all 0, 1, 2… in the new order,
    so equal order numbers (the default 0) still move."""
    may_manage(by)
    with transaction.atomic():
        groups = list(ServiceGroup.objects.select_for_update().filter(tenant_id=group.tenant_id))
        at = next(i for i, g in enumerate(groups) if g.pk == group.pk)
        to = at - 1 if up else at + 1
        if 0 <= to < len(groups):
            groups[at], groups[to] = groups[to], groups[at]
        for number, g in enumerate(groups):
            if g.order != number:
                ServiceGroup.objects.filter(pk=g.pk).update(order=number)
    touch_pages(Service.objects.filter(group__tenant_id=group.tenant_id).values_list("pk", flat=True))
    group.refresh_from_db()
    return group


def delete_group(group, *, by=None):
    may_manage(by)
    ids = list(Service.objects.filter(group=group).values_list("pk", flat=True))
    group.delete()
    touch_pages(ids)


def create_service(tenant, *, name, group=None, description="", order=0, status=ServiceStatus.OPERATIONAL, by=None):
    may_manage(by)
    if group is not None:
        same_tenant(tenant, [group], "group")
    now = clock.now()
    service = Service.objects.create(tenant=tenant, name=name, group=group, description=description, order=order,
                                     status=status, base_status=status, created_at=now, updated_at=now)
    ServiceStatusChange.objects.create(tenant=tenant, service=service, at=now, old_status=status, new_status=status,
                                       actor=by, cause="created")
    return service


def update_service(service, *, by=None, status=None, **fields):
    """Name, group, description, order; `status` sets the base status (a person's word)."""
    may_manage(by)
    if fields.get("group") is not None:
        same_tenant(service.tenant, [fields["group"]], "group")
    for name, value in fields.items():
        setattr(service, name, value)
    service.updated_at = clock.now()
    service.save()
    if status is not None and status != service.base_status:
        set_status(service, status, by=by, cause="set by hand", check=False)
    else:
        touch_pages([service.pk])
    return service


def delete_service(service, *, by=None):
    may_manage(by)
    pk = service.pk
    touch_pages([pk])
    service.delete()


def set_status(service, status, *, by=None, cause="set by hand", check=True):
    """A person sets the service's status (its base). Open causes still hold it at worse."""
    if check:
        may_write(by)
    if status not in SEVERITY:
        raise DomainError("Unknown status.", field="status")
    with transaction.atomic():
        Service.objects.filter(pk=service.pk).update(base_status=status)
        recompute([service.pk], by=by, cause=cause)
    service.refresh_from_db()
    return service


def link_source(service, alert_source, *, status_while_open="", restore_on_resolve=True, by=None):
    may_manage(by)
    same_tenant(service.tenant, [alert_source], "alert_source")
    if status_while_open and status_while_open not in SEVERITY:
        raise DomainError("Unknown status.", field="status_while_open")
    link, _ = SourceLink.objects.update_or_create(
        service=service, alert_source=alert_source,
        defaults={"tenant": service.tenant, "status_while_open": status_while_open,
                  "restore_on_resolve": restore_on_resolve})
    return link


def link_monitor(service, monitor, *, status_while_down="", restore_on_resolve=True, by=None):
    may_manage(by)
    same_tenant(service.tenant, [monitor], "monitor")
    if status_while_down and status_while_down not in SEVERITY:
        raise DomainError("Unknown status.", field="status_while_down")
    link, _ = MonitorLink.objects.update_or_create(
        service=service, monitor=monitor,
        defaults={"tenant": service.tenant, "status_while_down": status_while_down,
                  "restore_on_resolve": restore_on_resolve})
    touch_pages([service.pk])
    return link


def unlink(link, *, by=None):
    may_manage(by)
    link.delete()
