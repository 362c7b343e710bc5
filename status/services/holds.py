"""Holds: what automation, incidents and maintenance do to a service's status. A service shows the
worst of its base status (a person's word) and its holds; every change goes on its history and
gives the pages showing it a new ETag."""

from django.db import transaction

from ilert import clock

from .. import fastpath
from ..models import Service, ServiceHold, ServiceStatusChange, StatusPage, worst


def hold(tenant_id, items, cause, *, by=None, label="", now=None):
    """Hold services at a status while `cause` lasts: items are (service id, status, restore)."""
    now = now or clock.now()
    ids = []
    for service_id, status, restore in items:
        ServiceHold.objects.update_or_create(
            service_id=service_id, cause=cause,
            defaults={"status": status, "restore": restore, "tenant_id": tenant_id})
        ids.append(service_id)
    if ids:
        recompute(ids, by=by, cause=label or cause, now=now)


def release(cause, *, by=None, label="", now=None, service_ids=None):
    """`cause` is over: its holds go. A hold without `restore` leaves its status as the new base."""
    now = now or clock.now()
    holds = ServiceHold.objects.filter(cause=cause)
    if service_ids is not None:
        holds = holds.filter(service_id__in=service_ids)
    holds = list(holds)
    if not holds:
        return
    for item in holds:
        if not item.restore:
            Service.objects.filter(pk=item.service_id).update(base_status=item.status)
    ServiceHold.objects.filter(pk__in=[h.pk for h in holds]).delete()
    recompute([h.service_id for h in holds], by=by, cause=label or cause, now=now)


def recompute(service_ids, *, by=None, cause="", now=None):
    """Shown status = worst of base status and holds; every change goes on the history."""
    now = now or clock.now()
    services = list(Service.objects.select_for_update().filter(pk__in=set(service_ids)).order_by("pk"))
    held = {}
    for service_id, status in ServiceHold.objects.filter(service_id__in=service_ids).values_list("service_id",
                                                                                                 "status"):
        held.setdefault(service_id, []).append(status)
    changed = []
    for service in services:
        new = worst([service.base_status, *held.get(service.pk, [])])
        if new != service.status:
            ServiceStatusChange.objects.create(tenant_id=service.tenant_id, service=service, at=now,
                                               old_status=service.status, new_status=new, actor=by, cause=cause[:255])
            Service.objects.filter(pk=service.pk).update(status=new, updated_at=now)
            changed.append(service.pk)
    touch_pages(changed, now=now)
    return changed


def touch_pages(service_ids, *, now=None, pages=None):
    """Something shown changed: pages showing these services get a new ETag."""
    now = now or clock.now()
    ids = [p.pk for p in pages] if pages is not None else []
    service_ids = list(service_ids)
    if service_ids:
        ids += list(StatusPage.objects.filter(services__in=service_ids).values_list("pk", flat=True))
    bump_pages(ids, now)


def bump_pages(page_ids, now):
    """New ETags for these pages; the fast path's remembered ones stop matching after commit."""
    page_ids = sorted(set(page_ids))
    if not page_ids:
        return
    StatusPage.objects.filter(pk__in=page_ids).update(changed_at=now)
    transaction.on_commit(lambda: fastpath.changed([(pk, now) for pk in page_ids]))
