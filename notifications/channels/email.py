"""Email through Django's email API: any anymail ESP (or SMTP) by EMAIL_BACKEND, with a plain-text
and an HTML part, signed one-click action links, and Reply-To reply+<token>@INBOUND_EMAIL_DOMAIN so
an answer by reply reaches us through anymail's inbound webhook. With the default backend (the dev
outbox) the message is written there with what a simulated reply needs.

No ESP offers an idempotent send we can rely on or a lookup by our id, so an email whose outcome is
unknown is marked uncertain, not re-sent.
"""

import smtplib
import socket

import requests
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.template.loader import render_to_string

from alerts.selectors import incident_url
from ilert.devoutbox import EmailNotConfigured
from ilert.errors import DomainError

from .. import replies, tokens
from ..models import Notification
from ..render import Rendered, headline
from . import dev
from .base import Channel, SendError, Sent, requests_error

DEV_BACKEND = settings.DEV_EMAIL_BACKEND


def render_email(notification, items):
    """A plain-text and an HTML part from templates/notifications/email/ (page or message)."""
    if notification.kind != Notification.Kind.PAGE:
        subject = notification.subject or "ilert"
        context = {"body": notification.body, "site_url": settings.SITE_URL, "user": notification.user}
        return Rendered(
            subject=subject,
            text=render_to_string("notifications/email/message.txt", context),
            html=render_to_string("notifications/email/message.html", context),
        )
    entries = [{
        "incident": item.incident,
        "url": incident_url(item.incident),
        "actions": [(action, tokens.email_action_url(item, action)) for action in tokens.ACTIONS],
    } for item in items]
    first = items[0].incident
    if len(items) == 1:
        subject = f"[ilert] {headline(first)}: {first.summary}"
    else:
        subject = f"[ilert] {len(items)} new incidents, first: #{first.number} {first.summary}"
    context = {
        "entries": entries,
        "bundle": len(items) > 1,
        "can_reply": bool(tokens.reply_address(notification)),
        "user": notification.user,
        "site_url": settings.SITE_URL,
    }
    return Rendered(
        subject=subject[:200],
        text=render_to_string("notifications/email/page.txt", context),
        html=render_to_string("notifications/email/page.html", context),
    )


def _error(exc):
    if isinstance(exc, EmailNotConfigured):
        return SendError("Email: no email provider is configured (and the dev outbox is off)", permanent=True)
    if isinstance(exc, AnymailRecipientsRefused):
        return SendError(f"Email: recipient refused ({exc})", permanent=True)
    if isinstance(exc, AnymailAPIError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, requests.exceptions.RequestException):
            return requests_error(cause, "Email")
        status = getattr(exc, "status_code", None)
        if status is not None and 400 <= status < 500 and status != 429:
            return SendError(f"Email: the ESP refused the message ({status})", permanent=True)
        return SendError(f"Email: {str(exc).splitlines()[0]}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return SendError(f"Email: recipient refused ({exc})", permanent=True)
    if isinstance(exc, (smtplib.SMTPServerDisconnected, socket.timeout, TimeoutError)):
        return SendError(f"Email: the connection broke; the outcome is unknown ({exc})", unknown=True)
    if isinstance(exc, (smtplib.SMTPException, ConnectionError)):
        return SendError(f"Email: {exc}")
    return None


class EmailChannel(Channel):
    name = "email"
    label = "Email"
    timeline_label = "Email"
    word = "email"
    service_word = "email"
    provider_labels = {"email": "the mail server", "anymail": "the email provider"}
    throttle = (20, 15)
    notice_rank = 3
    verification = "link"
    rerender = True  # the HTML part is not kept on the row

    def clean_address(self, address):
        address = (address or "").strip().lower()
        try:
            validate_email(address)
        except ValidationError:
            raise DomainError("Enter a valid email address.", field="address") from None
        return address

    def render(self, notification, items):
        return render_email(notification, items)

    def routes_to_dev(self, tenant_id):
        return settings.EMAIL_BACKEND == DEV_BACKEND

    def dev_meta(self, notification, items):
        return {"links": [
            {"label": f"#{item.incident.number} {action}", "url": tokens.email_action_url(item, action)}
            for item in items for action in tokens.ACTIONS
        ]}

    def simulate_reply(self, message, notification, post):
        return replies.handle_email_reply(notification, notification.address, post.get("text", ""))

    def send(self, notification, rendered, items):
        if settings.EMAIL_BACKEND == DEV_BACKEND:
            return dev.write(self, notification, rendered, items)
        headers = {
            "Message-ID": tokens.message_id(notification),
            "Auto-Submitted": "auto-generated",
            "X-Ilert-Notification": notification.token,
        }
        reply_to = tokens.reply_address(notification)
        message = EmailMultiAlternatives(
            rendered.subject, rendered.text, settings.DEFAULT_FROM_EMAIL, [notification.address],
            reply_to=[reply_to] if reply_to else None, headers=headers,
        )
        if rendered.html:
            message.attach_alternative(rendered.html, "text/html")
        try:
            message.send()
        except Exception as exc:
            classified = _error(exc)
            if classified is None:
                raise
            raise classified from exc
        status = getattr(message, "anymail_status", None)
        if status is None:  # a plain Django backend (SMTP, locmem)
            return Sent("email", headers["Message-ID"])
        if status.status and status.status <= {"rejected", "invalid"}:
            raise SendError(f"Email: the ESP rejected the recipient ({', '.join(sorted(status.status))})",
                            permanent=True)
        return Sent("anymail", str(status.message_id or headers["Message-ID"]))
