"""What subscribers are told, written as Notice rows inside the transaction of the change (so a
notice exists exactly when its update does); status.outbox sends them.

Who: confirmed subscribers of a page that shows one of the affected services (a subscriber who chose
services only hears about those), and members who follow one of them. A maintenance or incident
that names no service reaches every subscriber of every page of the organisation.
"""

from django.db.models import Q

from ilert import kick

from .access import confirm_url
from .models import AffectedService, Notice, StatusIncident, StatusPage, Subscriber, new_code


def _recipients(incident):
    service_ids = list(AffectedService.objects.filter(incident=incident).values_list("service_id", flat=True))
    confirmed = Subscriber.objects.filter(tenant_id=incident.tenant_id, confirmed_at__isnull=False)
    if not service_ids:
        return list(confirmed.filter(page__isnull=False))
    pages = StatusPage.objects.filter(tenant_id=incident.tenant_id, services__in=service_ids).values("pk")
    by_page = confirmed.filter(page__in=pages).filter(Q(services__isnull=True) | Q(services__in=service_ids))
    members = confirmed.filter(user__isnull=False, services__in=service_ids)
    return list((by_page | members).distinct())


def _text(incident, update):
    kind = "Maintenance" if incident.kind == StatusIncident.Kind.MAINTENANCE else "Incident"
    status = update.get_status_display() if hasattr(update, "get_status_display") else update.status
    subject = f"[{kind}] {incident.title}: {status}"
    lines = [f"{incident.title}", f"Status: {status}", "", update.message]
    if incident.kind == StatusIncident.Kind.MAINTENANCE and incident.scheduled_for:
        lines += ["", f"Scheduled: {incident.scheduled_for:%Y-%m-%d %H:%M} – "
                      f"{incident.scheduled_until:%Y-%m-%d %H:%M} UTC"]
    names = list(AffectedService.objects.filter(incident=incident).values_list("service__name", flat=True))
    if names:
        lines += ["", "Affected: " + ", ".join(names)]
    return subject[:255], "\n".join(lines)


def _write(subscribers, key, subject, body):
    if not subscribers:
        return 0
    rows = [Notice(tenant_id=s.tenant_id, subscriber=s, key=key, subject=subject, body=body) for s in subscribers]
    Notice.objects.bulk_create(rows, ignore_conflicts=True)  # (subscriber, key) is unique: never twice
    from . import tasks  # a cycle: status.tasks → status.engine → this module

    kick.after_commit(tasks.deliver)
    return len(rows)


def announce_update(incident, update):
    subject, body = _text(incident, update)
    return _write(_recipients(incident), f"update:{update.pk}", subject, body)


def announce_reminder(incident, hours):
    subject = f"[Maintenance] {incident.title}: starts in {hours} h"
    body = (f"{incident.title}\nStarts in {hours} hour{'s' if hours != 1 else ''}: "
            f"{incident.scheduled_for:%Y-%m-%d %H:%M} – {incident.scheduled_until:%Y-%m-%d %H:%M} UTC")
    return _write(_recipients(incident), f"maintenance-{hours}h:{incident.pk}", subject[:255], body)


def confirm(subscriber):
    """The double opt-in email (again, if asked again: a new key each time the nonce changes)."""
    page = subscriber.page
    body = (f"Someone (hopefully you) asked for notices from the status page {page.name}.\n\n"
            f"Confirm: {confirm_url(subscriber)}\n\nIf this was not you, ignore this message; nothing will be sent.")
    Notice.objects.filter(subscriber=subscriber, key__startswith="confirm:", status=Notice.Status.PENDING).delete()
    return _write([subscriber], f"confirm:{new_code()}", f"Confirm your subscription to {page.name}", body)
