"""Every state change of services, pages, status incidents, maintenance and subscribers.

Roles are checked here too (docs/permissions.md): admins manage services, links and pages;
responders (and admins) post status incidents, updates and maintenance; stakeholders only subscribe
themselves. `by=None` is the system (automation, the maintenance engine).
"""

import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from alerts import services as alert_services
from alerts.models import AlertSource
from connectors import signing
from ilert import clock, kick, netguard, secrets
from ilert.errors import Conflict, DomainError, Forbidden

from . import fastpath, notices
from .models import (
    SEVERITY,
    AffectedService,
    IncidentUpdate,
    MonitorLink,
    Service,
    ServiceGroup,
    ServiceHold,
    ServiceStatus,
    ServiceStatusChange,
    SourceLink,
    StatusIncident,
    StatusPage,
    Subscriber,
    worst,
)

S = StatusIncident.Status
DEFAULT_TEMPLATE = "We are investigating problems with {service}."
REMINDERS = ((1, timedelta(hours=24)), (2, timedelta(hours=1)))
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _may_write(by):
    if by is not None and (not by.can_write or not by.is_active):
        raise Forbidden("Your role does not allow this.")


def _may_manage(by):
    if by is not None and (not by.is_admin or not by.is_active):
        raise Forbidden("Only admins manage services and status pages.")


def _same_tenant(tenant, objects, field):
    for obj in objects:
        if obj.tenant_id != tenant.pk:
            raise DomainError("Unknown object.", field=field)


# --- services, groups, links ------------------------------------------------------------------


def create_group(tenant, *, name, description="", order=0, by=None):
    _may_manage(by)
    return ServiceGroup.objects.create(tenant=tenant, name=name, description=description, order=order)


def update_group(group, *, by=None, **fields):
    _may_manage(by)
    for name, value in fields.items():
        setattr(group, name, value)
    group.save()
    touch_pages(Service.objects.filter(group=group).values_list("pk", flat=True))
    return group


def delete_group(group, *, by=None):
    _may_manage(by)
    ids = list(Service.objects.filter(group=group).values_list("pk", flat=True))
    group.delete()
    touch_pages(ids)


def create_service(tenant, *, name, group=None, description="", order=0, status=ServiceStatus.OPERATIONAL, by=None):
    _may_manage(by)
    if group is not None:
        _same_tenant(tenant, [group], "group")
    now = clock.now()
    service = Service.objects.create(tenant=tenant, name=name, group=group, description=description, order=order,
                                     status=status, base_status=status, created_at=now, updated_at=now)
    ServiceStatusChange.objects.create(tenant=tenant, service=service, at=now, old_status=status, new_status=status,
                                       actor=by, cause="created")
    return service


def update_service(service, *, by=None, status=None, **fields):
    """Name, group, description, order; `status` sets the base status (a person's word)."""
    _may_manage(by)
    if fields.get("group") is not None:
        _same_tenant(service.tenant, [fields["group"]], "group")
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
    _may_manage(by)
    pk = service.pk
    touch_pages([pk])
    service.delete()


def set_status(service, status, *, by=None, cause="set by hand", check=True):
    """A person sets the service's status (its base). Open causes still hold it at worse."""
    if check:
        _may_write(by)
    if status not in SEVERITY:
        raise DomainError("Unknown status.", field="status")
    with transaction.atomic():
        Service.objects.filter(pk=service.pk).update(base_status=status)
        _recompute([service.pk], by=by, cause=cause)
    service.refresh_from_db()
    return service


def link_source(service, alert_source, *, status_while_open="", restore_on_resolve=True, by=None):
    _may_manage(by)
    _same_tenant(service.tenant, [alert_source], "alert_source")
    if status_while_open and status_while_open not in SEVERITY:
        raise DomainError("Unknown status.", field="status_while_open")
    link, _ = SourceLink.objects.update_or_create(
        service=service, alert_source=alert_source,
        defaults={"tenant": service.tenant, "status_while_open": status_while_open,
                  "restore_on_resolve": restore_on_resolve})
    return link


def link_monitor(service, monitor, *, status_while_down="", restore_on_resolve=True, by=None):
    _may_manage(by)
    _same_tenant(service.tenant, [monitor], "monitor")
    if status_while_down and status_while_down not in SEVERITY:
        raise DomainError("Unknown status.", field="status_while_down")
    link, _ = MonitorLink.objects.update_or_create(
        service=service, monitor=monitor,
        defaults={"tenant": service.tenant, "status_while_down": status_while_down,
                  "restore_on_resolve": restore_on_resolve})
    touch_pages([service.pk])
    return link


def unlink(link, *, by=None):
    _may_manage(by)
    link.delete()


# --- holds: what automation, incidents and maintenance do to a service's status -------------------


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
        _recompute(ids, by=by, cause=label or cause, now=now)


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
    _recompute([h.service_id for h in holds], by=by, cause=label or cause, now=now)


def _recompute(service_ids, *, by=None, cause="", now=None):
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
    _bump(ids, now)


def _bump(page_ids, now):
    """New ETags for these pages; the fast path's remembered ones stop matching after commit."""
    page_ids = sorted(set(page_ids))
    if not page_ids:
        return
    StatusPage.objects.filter(pk__in=page_ids).update(changed_at=now)
    transaction.on_commit(lambda: fastpath.changed([(pk, now) for pk in page_ids]))


# --- status pages ----------------------------------------------------------------------------------


def _not_a_page_domain(domain):
    """The product's own host names and IP addresses are never a page's domain: a load balancer's
    health check or a visit by IP would otherwise be served one tenant's page instead of the product."""
    import ipaddress

    from .middleware import _own_hosts

    try:
        ipaddress.ip_address(domain)
        return True
    except ValueError:
        return domain in _own_hosts() or domain.endswith(".localhost")


def _clean_page(fields):
    for name in ("brand_color", "background_color", "text_color"):
        if name in fields and not COLOR.match(fields[name] or ""):
            raise DomainError("A colour is #rrggbb.", field=name)
    if fields.get("custom_domain"):
        domain = fields["custom_domain"].strip().lower().rstrip(".")
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+", domain):
            raise DomainError("Enter a host name such as status.example.com.", field="custom_domain")
        if _not_a_page_domain(domain):
            raise DomainError("That host name is the product's own or an IP address; enter your status page's "
                              "host name.", field="custom_domain")
        fields["custom_domain"] = domain
    elif "custom_domain" in fields:
        fields["custom_domain"] = None
    links = fields.get("links")
    if links is not None:
        if not isinstance(links, list) or len(links) > 10 or not all(
                isinstance(item, dict) and isinstance(item.get("label"), str) and isinstance(item.get("url"), str)
                and item["url"].startswith(("https://", "http://")) for item in links):
            raise DomainError("Links are up to 10 {label, url} with http(s) URLs.", field="links")
    domains = fields.get("allowed_email_domains")
    if domains is not None:
        if not isinstance(domains, list) or not all(isinstance(d, str) and "." in d and "@" not in d for d in domains):
            raise DomainError("A list of domains such as example.com.", field="allowed_email_domains")
        fields["allowed_email_domains"] = sorted({d.strip().lower() for d in domains})
    if "time_zone" in fields:
        import zoneinfo

        if fields["time_zone"] not in zoneinfo.available_timezones():
            raise DomainError("Unknown time zone.", field="time_zone")
    return fields


def create_page(tenant, *, name, slug="", services=(), by=None, **fields):
    _may_manage(by)
    services = list(services)
    _same_tenant(tenant, services, "services")
    fields = _clean_page(fields)
    slug = slugify(slug or name)[:60]
    if not slug:
        raise DomainError("Enter a slug.", field="slug")
    try:
        with transaction.atomic():
            page = StatusPage.objects.create(tenant=tenant, name=name, slug=slug, **fields)
    except IntegrityError:
        raise Conflict("That slug or custom domain is taken.", field="slug") from None
    page.services.set(services)
    _bump([page.pk], clock.now())
    return page


def update_page(page, *, services=None, by=None, **fields):
    _may_manage(by)
    fields = _clean_page(fields)
    if "slug" in fields:
        fields["slug"] = slugify(fields["slug"])[:60]
        if not fields["slug"]:
            raise DomainError("Enter a slug.", field="slug")
    for name, value in fields.items():
        setattr(page, name, value)
    page.changed_at = clock.now()
    try:
        with transaction.atomic():
            page.save()
    except IntegrityError:
        raise Conflict("That slug or custom domain is taken.", field="slug") from None
    if services is not None:
        services = list(services)
        _same_tenant(page.tenant, services, "services")
        page.services.set(services)
    _bump([page.pk], page.changed_at)
    return page


def delete_page(page, *, by=None):
    _may_manage(by)
    pk = page.pk
    page.delete()
    transaction.on_commit(lambda: fastpath.changed([(pk, clock.now())]))


def new_access_link(page, *, by=None):
    """A new secret link for an audience page: the old link and every visitor's grant (link cookie or
    magic-link login) stop working. Returns the token, shown once."""
    _may_manage(by)
    from .access import new_token
    from .models import new_code

    token = new_token()
    page.access_token_hash = secrets.lookup_hash(token)
    page.access_nonce = new_code()
    page.save(update_fields=["access_token_hash", "access_nonce"])
    _bump([page.pk], clock.now())
    return token


def end_access_grants(page, *, by=None):
    """Every visitor's grant (link cookie, magic-link login) ends."""
    _may_manage(by)
    from .models import new_code

    page.access_nonce = new_code()
    page.save(update_fields=["access_nonce"])


# --- status incidents and updates -----------------------------------------------------------------


def _affected(tenant, affected):
    """[(service, impact)] checked: this tenant's services, known statuses."""
    out = []
    for service, impact in affected:
        _same_tenant(tenant, [service], "affected")
        if impact not in SEVERITY:
            raise DomainError(f"Unknown impact {impact!r}.", field="affected")
        out.append((service, impact))
    return out


def _components(incident, before, now):
    """Statuspage's affected_components of an update: the services whose status it changed."""
    after = dict(Service.objects.filter(pk__in=before).values_list("pk", "status"))
    names = dict(Service.objects.filter(pk__in=before).values_list("pk", "name"))
    codes = dict(Service.objects.filter(pk__in=before).values_list("pk", "code"))
    return [{"code": codes[pk], "name": names[pk], "old_status": before[pk], "new_status": after[pk]}
            for pk in before if pk in after and after[pk] != before[pk]]


def _statuses(service_ids):
    return dict(Service.objects.filter(pk__in=service_ids).values_list("pk", "status"))


def create_incident(tenant, *, title, message, status=S.INVESTIGATING, impact=StatusIncident.Impact.MINOR,
                    affected=(), by=None, alert_incident=None, restore_on_resolve=True, now=None):
    _may_write(by)
    if status not in StatusIncident.INCIDENT_STATUSES:
        raise DomainError("An incident is investigating, identified, monitoring or resolved.", field="status")
    if not (message or "").strip():
        raise DomainError("Say what is happening.", field="message")
    affected = _affected(tenant, affected)
    now = now or clock.now()
    with transaction.atomic():
        incident = StatusIncident.objects.create(
            tenant=tenant, kind=StatusIncident.Kind.INCIDENT, title=title, status=status, impact=impact,
            alert_incident=alert_incident, restore_on_resolve=restore_on_resolve, created_at=now, updated_at=now)
        AffectedService.objects.bulk_create([
            AffectedService(tenant=tenant, incident=incident, service=service, impact=impact_)
            for service, impact_ in affected])
        _post(incident, status=status, message=message, by=by, now=now)
    return incident


def post_update(incident, *, status, message, by=None, affected=None, now=None):
    """A new update; a closing status (resolved, completed) releases the services."""
    _may_write(by)
    allowed = (StatusIncident.INCIDENT_STATUSES if incident.kind == StatusIncident.Kind.INCIDENT
               else StatusIncident.MAINTENANCE_STATUSES)
    if status not in allowed:
        raise DomainError(f"The status is one of {', '.join(allowed)}.", field="status")
    if not (message or "").strip():
        raise DomainError("Say what changed.", field="message")
    now = now or clock.now()
    with transaction.atomic():
        locked = StatusIncident.objects.select_for_update().get(pk=incident.pk)
        if not locked.is_open:
            raise Conflict("This incident is closed; open a new one.")
        if affected is not None:
            affected = _affected(locked.tenant, affected)
            AffectedService.objects.filter(incident=locked).exclude(
                service__in=[s for s, _ in affected]).delete()
            for service, impact in affected:
                AffectedService.objects.update_or_create(incident=locked, service=service,
                                                         defaults={"impact": impact, "tenant": locked.tenant})
        update = _post(locked, status=status, message=message, by=by, now=now)
    incident.refresh_from_db()
    return update


def _post(incident, *, status, message, by, now):
    """Record an update and apply it to the services (inside the caller's transaction)."""
    affected = list(AffectedService.objects.filter(incident=incident).values_list("service_id", "impact"))
    before = _statuses([pk for pk, _ in affected])
    cause = f"status-incident:{incident.pk}"
    label = f"{incident.get_kind_display().lower()} {incident.title!r}"
    if status in StatusIncident.CLOSED:
        release(cause, by=by, label=f"{label} {status}", now=now)
        if incident.kind == StatusIncident.Kind.MAINTENANCE:
            _end_windows(incident)
    elif incident.kind == StatusIncident.Kind.INCIDENT or status in ("in_progress", "verifying"):
        impact_for = (lambda i: ServiceStatus.UNDER_MAINTENANCE) if incident.kind == "maintenance" else (lambda i: i)
        keep = [pk for pk, _ in affected]
        ServiceHold.objects.filter(cause=cause).exclude(service_id__in=keep).delete()
        hold(incident.tenant_id, [(pk, impact_for(impact), incident.restore_on_resolve) for pk, impact in affected],
             cause, by=by, label=label, now=now)
        _recompute(keep, by=by, cause=label, now=now)
        if incident.kind == StatusIncident.Kind.MAINTENANCE and incident.silence_sources and not incident.window_ids:
            _open_windows(incident, now)
    fields = {"status": status, "updated_at": now}
    if status == S.MONITORING and incident.monitoring_at is None:
        fields["monitoring_at"] = now
    if status in StatusIncident.CLOSED:
        fields["resolved_at"] = now
        fields["due_at"] = None
    StatusIncident.objects.filter(pk=incident.pk).update(**fields)
    for name, value in fields.items():
        setattr(incident, name, value)
    update = IncidentUpdate.objects.create(tenant_id=incident.tenant_id, incident=incident, status=status,
                                           message=message, at=now, author=by,
                                           affected_components=_components(incident, before, now))
    if affected:
        touch_pages([pk for pk, _ in affected], now=now)
    else:  # an incident naming no service shows on every page of the organisation
        _bump(StatusPage.objects.filter(tenant_id=incident.tenant_id).values_list("pk", flat=True), now)
    notices.announce_update(incident, update)
    return update


def from_alert_incident(alert_incident, *, by=None, template=DEFAULT_TEMPLATE, impact=ServiceStatus.PARTIAL,
                        title=""):
    """One click: a status incident for the services linked to the alert incident's source."""
    _may_write(by)
    links = list(SourceLink.objects.filter(alert_source_id=alert_incident.alert_source_id).select_related("service"))
    services = [link.service for link in links]
    if not services:
        raise DomainError("No service is linked to this incident's alert source; link one first.",
                          field="alert_incident")
    names = ", ".join(s.name for s in services)
    try:
        message = template.format(service=names, summary=alert_incident.summary, number=alert_incident.number)
    except (KeyError, IndexError, ValueError):
        raise DomainError("The template may use {service}, {summary} and {number}.", field="template") from None
    return create_incident(alert_incident.tenant, title=title or f"Problems with {names}", message=message,
                           affected=[(s, impact) for s in services], by=by, alert_incident=alert_incident)


# --- scheduled maintenance ----------------------------------------------------------------------------


def _next_due(incident, now):
    """When the maintenance engine next has work: a reminder, the start or the end."""
    if incident.status in StatusIncident.CLOSED or not incident.auto_transition and incident.status != S.SCHEDULED:
        return None
    if incident.status == S.SCHEDULED:
        times = [incident.scheduled_for - delta for level, delta in REMINDERS if incident.reminded < level
                 and incident.scheduled_for - delta > incident.created_at]
        if incident.auto_transition:
            times.append(incident.scheduled_for)
        return min(times) if times else None
    return incident.scheduled_until


def schedule_maintenance(tenant, *, title, message, scheduled_for, scheduled_until, affected=(), by=None,
                         auto_transition=True, silence_sources=False, now=None):
    """`affected`: services (shown as under maintenance while it runs)."""
    _may_write(by)
    if scheduled_until <= scheduled_for:
        raise DomainError("The end must be after the start.", field="scheduled_until")
    if not (message or "").strip():
        raise DomainError("Say what will happen.", field="message")
    services = list(affected)
    _same_tenant(tenant, services, "affected")
    now = now or clock.now()
    with transaction.atomic():
        incident = StatusIncident.objects.create(
            tenant=tenant, kind=StatusIncident.Kind.MAINTENANCE, title=title, status=S.SCHEDULED,
            impact=StatusIncident.Impact.MAINTENANCE,
            scheduled_for=scheduled_for, scheduled_until=scheduled_until, auto_transition=auto_transition,
            silence_sources=silence_sources, created_at=now, updated_at=now)
        AffectedService.objects.bulk_create([
            AffectedService(tenant=tenant, incident=incident, service=service,
                            impact=ServiceStatus.UNDER_MAINTENANCE) for service in services])
        # Reminders already inside their window when it is scheduled are not sent (the notice says it).
        incident.reminded = sum(1 for level, delta in REMINDERS if scheduled_for - delta <= now)
        incident.due_at = _next_due(incident, now)
        StatusIncident.objects.filter(pk=incident.pk).update(reminded=incident.reminded, due_at=incident.due_at)
        _post(incident, status=S.SCHEDULED, message=message, by=by, now=now)
    if incident.due_at is not None:
        from . import tasks

        kick.after_commit(tasks.sweep, options={"eta": incident.due_at})
    return incident


def start_maintenance(incident, *, by=None, now=None, message="The scheduled maintenance has started."):
    return post_update(incident, status=S.IN_PROGRESS, message=message, by=by, now=now)


def complete_maintenance(incident, *, by=None, now=None, message="The scheduled maintenance is complete."):
    return post_update(incident, status=S.COMPLETED, message=message, by=by, now=now)


def _sources_of(incident):
    service_ids = AffectedService.objects.filter(incident=incident).values_list("service_id", flat=True)
    return list(AlertSource.objects.filter(
        pk__in=SourceLink.objects.filter(service_id__in=service_ids).values_list("alert_source_id", flat=True)))


def _open_windows(incident, now):
    """Planned work pages nobody: a maintenance window on every linked alert source until the end."""
    ids = []
    for source in _sources_of(incident):
        window = alert_services.add_maintenance_window(
            source, start=now, end=max(incident.scheduled_until, now + timedelta(minutes=1)),
            description=f"Status page maintenance: {incident.title}"[:255])
        ids.append(window.pk)
    StatusIncident.objects.filter(pk=incident.pk).update(window_ids=ids)
    incident.window_ids = ids


def _end_windows(incident):
    """Ended early (or on time): the windows it opened end now."""
    from alerts.models import MaintenanceWindow

    for window in MaintenanceWindow.objects.filter(pk__in=incident.window_ids or []):
        if window.end > clock.now():
            alert_services.delete_maintenance_window(window)


def delete_incident(incident, *, by=None):
    """Remove a status incident or maintenance (a mistake): its holds go, the services are restored."""
    _may_write(by)
    with transaction.atomic():
        release(f"status-incident:{incident.pk}", by=by, label=f"{incident.title!r} deleted")
        if incident.kind == StatusIncident.Kind.MAINTENANCE:
            _end_windows(incident)
        ids = list(AffectedService.objects.filter(incident=incident).values_list("service_id", flat=True))
        tenant_id = incident.tenant_id
        incident.delete()
        if ids:
            touch_pages(ids)
        else:
            _bump(StatusPage.objects.filter(tenant_id=tenant_id).values_list("pk", flat=True), clock.now())


# --- subscribers ---------------------------------------------------------------------------------------


def subscribe_email(page, email, *, services=()):
    """A visitor asks for email notices: an unconfirmed subscriber and a confirmation email (double
    opt-in). Asking again resends the confirmation; a confirmed address is left as it is (the answer
    is the same either way, so nobody learns who is subscribed)."""
    email = (email or "").strip().lower()
    from django.core.validators import validate_email

    try:
        validate_email(email)
    except Exception:
        raise DomainError("Enter a valid email address.", field="email") from None
    services = list(services)
    _same_tenant(page.tenant, services, "services")
    shown = set(page.services.values_list("pk", flat=True))
    if any(s.pk not in shown for s in services):
        raise DomainError("Choose services shown on this page.", field="services")
    with transaction.atomic():
        subscriber, created = Subscriber.objects.get_or_create(
            page=page, email=email, kind=Subscriber.Kind.EMAIL, defaults={"tenant": page.tenant})
        if subscriber.confirmed_at is not None:
            return subscriber
        subscriber.services.set(services)
        now = clock.now()
        if subscriber.confirmation_sent_at and now - subscriber.confirmation_sent_at < timedelta(minutes=10):
            return subscriber  # one confirmation per 10 minutes: the form cannot flood an address
        from .access import mail_limited

        if mail_limited(email):
            return subscriber  # nor many pages at once (the answer is the same: nothing is probed)
        subscriber.confirmation_sent_at = now
        subscriber.save(update_fields=["confirmation_sent_at"])
        notices.confirm(subscriber)
    return subscriber


def confirm_subscriber(subscriber, *, now=None):
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = now or clock.now()
        subscriber.save(update_fields=["confirmed_at"])
    return subscriber


def unsubscribe(subscriber):
    subscriber.delete()


def subscribe_webhook(page, url, *, services=(), by=None):
    """A webhook subscriber, signed the Standard Webhooks way. Returns (subscriber, secret shown once)."""
    _may_write(by)
    try:
        netguard.check_url(url)
    except netguard.BlockedTarget as exc:
        raise DomainError(str(exc), field="url") from None
    services = list(services)
    _same_tenant(page.tenant, services, "services")
    secret = signing.new_secret()
    subscriber = Subscriber.objects.create(tenant=page.tenant, page=page, kind=Subscriber.Kind.WEBHOOK, url=url,
                                           secret_encrypted=secrets.encrypt(secret), confirmed_at=clock.now())
    subscriber.services.set(services)
    return subscriber, secret


def subscribe_member(user, services):
    """A member of the organisation follows services from their profile (no opt-in: it is their account)."""
    services = list(services)
    _same_tenant(user.tenant, services, "services")
    subscriber, _ = Subscriber.objects.get_or_create(
        user=user, defaults={"tenant": user.tenant, "email": user.email, "confirmed_at": clock.now()})
    if not services:
        subscriber.delete()
        return None
    subscriber.email = user.email
    subscriber.save(update_fields=["email"])
    subscriber.services.set(services)
    return subscriber
