"""Provider delivery reports (Twilio status callbacks): delivered / answered, undelivered (the
user's next step goes at once), unanswered calls (nothing changes), and a late report that settles a
send whose answer we never got."""

from django.db import transaction

from ilert import clock

from .. import channels
from ..models import Notification
from . import timeline
from .outcomes import fail_rows

S = Notification.Status
DELIVERED = {"delivered", "read", "completed", "answered"}
UNDELIVERED = {"undelivered", "failed"}
UNANSWERED = {"busy", "no-answer", "canceled", "voicemail"}
OPTED_OUT = "21610"  # Twilio: the number answered STOP


def record_status(notification, status, *, provider_id="", error_code="", duration="", answered_by="", now=None):
    """A provider's delivery report (Twilio status callback) for a notification (and its bundle)."""
    now = now or clock.now()
    status = _normalised(status, answered_by)
    with transaction.atomic():
        locked = Notification.objects.select_for_update(of=("self",)).select_related("incident", "user",
                                                                                     "contact_method")
        row = locked.get(pk=notification.pk)
        if row.bundle_id:
            row = locked.get(pk=row.bundle_id)
        if provider_id and not row.provider_id and row.status in (S.SENDING, S.UNCERTAIN):
            _late_report(row, provider_id, now)
        if provider_id and row.provider_id and provider_id != row.provider_id:
            return row
        rows = [row] + list(row.bundled.select_related("incident", "user"))
        if status in DELIVERED and row.status in (S.SENT, S.SENDING):
            _delivered(row, rows, duration, now)
        elif status in UNDELIVERED and row.status in (S.SENT, S.SENDING, S.DELIVERED):
            _undelivered(row, rows, error_code, now)
        elif status in UNANSWERED and row.status in (S.SENT, S.SENDING):
            Notification.objects.filter(pk__in=[r.pk for r in rows]).update(error=f"call {status}")
            for item in rows:
                timeline.log(item, f"{timeline.target(item)} not answered ({status}); nothing changes, "
                                   "escalation goes on")
    return row


def _undelivered(row, rows, error_code, now):
    """The user's next step goes at once; a number that answered STOP is opted out."""
    detail = f" (error {error_code})" if error_code else ""
    if error_code == OPTED_OUT and row.contact_method_id:
        type(row.contact_method).objects.filter(pk=row.contact_method_id).update(opted_out=True)
    Notification.objects.filter(pk__in=[r.pk for r in rows]).update(status=S.SENDING)
    fail_rows(rows, f"{timeline.target(row)} was not delivered{detail}", now, lease=None)


def _normalised(status, answered_by):
    status = (status or "").lower()
    if status == "completed" and answered_by.startswith(("machine", "fax")):
        return "voicemail"  # we hung up on the machine: nobody heard the page
    return status


def _late_report(row, provider_id, now):
    """A late callback settles a send whose answer we never got (unless another row has that id)."""
    if Notification.objects.filter(provider="twilio", provider_id=provider_id).exclude(pk=row.pk).exists():
        return
    Notification.objects.filter(pk__in=[row.pk] + list(row.bundled.values_list("pk", flat=True))).update(
        status=S.SENT, sent_at=now, provider="twilio", provider_id=provider_id, deadline=None,
        outcome_unknown=False, error="")
    row.refresh_from_db()
    for item in [row] + list(row.bundled.select_related("incident", "user")):
        timeline.log(item, f"{timeline.target(item)} sent (Twilio's status report for {provider_id} came before "
                           "the answer to our request)", data={"provider_id": provider_id})


def _delivered(row, rows, duration, now):
    Notification.objects.filter(pk__in=[r.pk for r in rows]).update(status=S.DELIVERED, delivered_at=now)
    verb = channels.get(row.channel).delivered_word
    length = f", {duration} s" if duration else ""
    for item in rows:
        item.status = S.DELIVERED
        timeline.log(item, f"{timeline.target(item)} {verb} {timeline.clock_time(item, now)}{length}")
