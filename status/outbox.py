"""Delivery of subscriber notices, by the rules of the notification outbox (architecture.md §4):

claim:   due `pending` rows, select_for_update(skip_locked) and a compare-and-set on (status, lease):
         → `sending` with a deadline, committed before any provider call;
send:    right before the call, one more compare-and-set (still ours, deadline not passed) marks the
         row `outcome_unknown`; the call happens outside any transaction; its outcome is recorded
         only under the same lease;
reconcile: a row still `sending` after its deadline. No call started → pending again. A call
         started and its worker died (or timed out): email cannot be asked whether the ESP took it,
         so the row becomes `uncertain` and is never sent again; a webhook is sent again with the
         same `webhook-id`, which Standard Webhooks receivers use to drop duplicates.

Email goes through Django's email API (the anymail ESP or the dev outbox, as every email of the
product), with a one-click unsubscribe link in the text and the List-Unsubscribe headers (RFC 8058).
"""

import json
import logging
import smtplib
import socket
from datetime import timedelta

import httpx
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.utils.html import escape, urlize

from connectors import http as guarded_http
from connectors import signing
from ilert import clock, netguard, secrets

from . import access
from .models import Notice, Subscriber

log = logging.getLogger(__name__)
N = Notice.Status
DEADLINE_SECONDS = 120
BACKOFF_SECONDS = (30, 120, 600, 1800, 3600)
MAX_ATTEMPTS = 6


class Failed(Exception):
    def __init__(self, message, *, permanent=False, unknown=False):
        super().__init__(message)
        self.permanent, self.unknown = permanent, unknown


def claim(now, batch=50):
    with transaction.atomic():
        due = list(Notice.objects.select_for_update(skip_locked=True)
                   .filter(status=N.PENDING, due_at__lte=now).order_by("due_at", "id")
                   .values_list("pk", "lease")[:batch])
        won = []
        for pk, lease in due:
            if Notice.objects.filter(pk=pk, status=N.PENDING, lease=lease).update(
                    status=N.SENDING, lease=lease + 1, deadline=now + timedelta(seconds=DEADLINE_SECONDS),
                    outcome_unknown=False):
                won.append((pk, lease + 1))
    return won


def dispatch(now=None, batch=50):
    """Claim due notices and send them. Returns how many were claimed."""
    now = now or clock.now()
    claimed = claim(now, batch)
    for pk, lease in claimed:
        deliver_one(pk, lease)
    return len(claimed)


def _start(pk, lease):
    now = clock.now()
    return Notice.objects.filter(pk=pk, status=N.SENDING, lease=lease, deadline__gt=now).update(
        outcome_unknown=True, attempts=F("attempts") + 1, deadline=now + timedelta(seconds=DEADLINE_SECONDS))


def deliver_one(pk, lease):
    notice = Notice.objects.select_related("subscriber__page").get(pk=pk)
    if not _start(pk, lease):
        return False  # no longer ours: nothing was sent
    try:
        provider_id = send(notice)
    except Failed as exc:
        _failed(notice, lease, exc)
        return False
    Notice.objects.filter(pk=pk, status=N.SENDING, lease=lease).update(
        status=N.SENT, sent_at=clock.now(), provider_id=provider_id[:255], deadline=None, outcome_unknown=False,
        error="")
    return True


def _failed(notice, lease, exc):
    attempts = notice.attempts + 1
    if exc.unknown:
        return  # the deadline passes and reconcile decides (email: uncertain, never twice)
    if exc.permanent or attempts >= MAX_ATTEMPTS:
        Notice.objects.filter(pk=notice.pk, lease=lease).update(status=N.FAILED, error=str(exc)[:2000],
                                                               deadline=None, outcome_unknown=False)
        return
    delay = BACKOFF_SECONDS[min(attempts - 1, len(BACKOFF_SECONDS) - 1)]
    Notice.objects.filter(pk=notice.pk, lease=lease).update(
        status=N.PENDING, due_at=clock.now() + timedelta(seconds=delay), error=str(exc)[:2000], deadline=None,
        outcome_unknown=False)


def reconcile(now=None, batch=200):
    """Rows still `sending` after their deadline (their worker died or never got to them)."""
    now = now or clock.now()
    settled = 0
    with transaction.atomic():
        rows = list(Notice.objects.select_for_update(skip_locked=True).select_related("subscriber")
                    .filter(status=N.SENDING, deadline__lte=now)[:batch])
        for row in rows:
            if row.outcome_unknown and row.subscriber.kind == Subscriber.Kind.EMAIL:
                update = {"status": N.UNCERTAIN, "error": "the sender stopped mid-send; the ESP may have taken it, "
                                                          "so it is not sent again"}
            else:
                update = {"status": N.PENDING, "due_at": now}
            settled += Notice.objects.filter(pk=row.pk, status=N.SENDING, lease=row.lease).update(
                deadline=None, outcome_unknown=False, **update)
    return settled


# --- the channels ---------------------------------------------------------------------------------


def send(notice):
    subscriber = notice.subscriber
    if subscriber.kind == Subscriber.Kind.WEBHOOK:
        return _webhook(notice, subscriber)
    return _email(notice, subscriber)


def _email(notice, subscriber):
    unsubscribe = access.unsubscribe_url(subscriber)
    text = f"{notice.body}\n\n--\nUnsubscribe with one click: {unsubscribe}\n"
    if subscriber.page_id:
        text += f"Status page: {access.page_url(subscriber.page)}\n"
    html = ("<div style=\"font-family:sans-serif\">" + urlize(escape(notice.body)).replace("\n", "<br>")
            + f"<hr><p><a href=\"{escape(unsubscribe)}\">Unsubscribe</a></p></div>")
    message_id = f"<status-{notice.token}@{settings.SITE_URL.split('//')[-1].split('/')[0].split(':')[0]}>"
    headers = {
        "Message-ID": message_id,
        "Auto-Submitted": "auto-generated",
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    message = EmailMultiAlternatives(notice.subject, text, settings.DEFAULT_FROM_EMAIL, [subscriber.email],
                                     headers=headers)
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception as exc:
        raise _classify(exc) from exc
    status = getattr(message, "anymail_status", None)
    if status is not None and status.status and status.status <= {"rejected", "invalid"}:
        raise Failed("the ESP rejected the recipient", permanent=True)
    return str(getattr(status, "message_id", None) or message_id)


def _classify(exc):
    if isinstance(exc, (AnymailRecipientsRefused, smtplib.SMTPRecipientsRefused)):
        return Failed(f"recipient refused ({exc})", permanent=True)
    if isinstance(exc, (smtplib.SMTPServerDisconnected, socket.timeout, TimeoutError)):
        return Failed(f"the connection broke; the outcome is unknown ({exc})", unknown=True)
    if isinstance(exc, AnymailAPIError):
        code = getattr(exc, "status_code", None)
        return Failed(str(exc).splitlines()[0], permanent=code is not None and 400 <= code < 500 and code != 429)
    return Failed(f"{type(exc).__name__}: {exc}")


def _webhook(notice, subscriber):
    body = json.dumps({"type": "status." + notice.key.split(":")[0], "subject": notice.subject,
                       "message": notice.body, "page": subscriber.page.slug if subscriber.page_id else None},
                      separators=(",", ":"))
    headers = {"Content-Type": "application/json",
               **signing.headers([secrets.decrypt(subscriber.secret_encrypted)], notice.token,
                                 clock.now().timestamp(), body)}
    try:
        netguard.check_url(subscriber.url)
        with guarded_http.session(record=False) as session:  # no redirect followed, body read up to 1 MiB
            response = session.post(subscriber.url, content=body.encode(), headers=headers)
    except netguard.BlockedTarget as exc:
        raise Failed(str(exc), permanent=True) from exc
    except httpx.TimeoutException as exc:
        raise Failed(f"no answer in time ({exc})") from exc  # retried with the same webhook-id
    except httpx.HTTPError as exc:
        raise Failed(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise Failed(f"HTTP {response.status_code}", permanent=400 <= response.status_code < 500
                     and response.status_code not in (408, 429))
    return f"HTTP {response.status_code}"
