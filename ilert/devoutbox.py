"""The dev outbox's email side, and who may read the outbox.

`EmailBackend` keeps messages in the dev outbox (settings.DEV_OUTBOX, the embedded default).
`UnconfiguredEmailBackend` is what runs when there is neither an email provider nor the dev outbox:
every send fails loudly instead of vanishing.

A message marked with `mark_account_message(message, user)` (password reset, invitation,
verification code) is stored as an account message for that user: it carries a secret that acts as
them, so the outbox shows it to nobody else.
"""

import logging

from django.core.mail.backends.base import BaseEmailBackend
from django.db.models import Q

from .models import DevMessage

log = logging.getLogger(__name__)

NOT_CONFIGURED = ("No email provider is configured (EMAIL_BACKEND) and the dev outbox is off (DEV_OUTBOX): "
                  "email cannot be sent")


class EmailNotConfigured(Exception):
    """Raised for every send when no email provider is configured."""


def mark_account_message(message, user):
    """Tag an EmailMessage as an account message addressed to `user` (read by the dev outbox only)."""
    message.ilert_account_for = user
    return message


def _addressee(message, recipients):
    user = getattr(message, "ilert_account_for", None)
    if user is not None:
        return user
    from accounts.models import User  # ilert is below accounts; look up lazily

    return User.objects.filter(email__in=[a.lower() for a in recipients]).select_related("tenant").first()


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        sent = 0
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = content
            recipients = message.recipients()
            user = _addressee(message, recipients)
            DevMessage.objects.create(
                tenant_id=user.tenant_id if user else None,
                user=user,
                account=hasattr(message, "ilert_account_for"),
                channel="email",
                to=", ".join(recipients),
                subject=message.subject,
                body=message.body,
                html=html,
                meta={"from": message.from_email, "headers": dict(message.extra_headers)},
            )
            sent += 1
        return sent


class UnconfiguredEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        if email_messages and not self.fail_silently:
            log.error("%s (%d message(s) to %s)", NOT_CONFIGURED, len(email_messages),
                      ", ".join(sorted({a for m in email_messages for a in m.recipients()})))
            raise EmailNotConfigured(NOT_CONFIGURED)
        return 0


def visible_to(user):
    """The dev outbox messages `user` may read: an admin, the organisation's except other people's
    account messages; anyone else, only what was addressed to them."""
    mine = Q(user=user)
    if user.is_admin:
        return DevMessage.objects.filter(Q(account=False) | mine, tenant_id=user.tenant_id)
    return DevMessage.objects.filter(mine, tenant_id=user.tenant_id)
